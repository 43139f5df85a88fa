"""Where bgone keeps its files. Environment variables win so tests and portable installs can
redirect everything without touching the user's real cache."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "bgone"


def model_dir() -> Path:
    """Model files live in the user cache (large, re-downloadable); BGONE_MODEL_DIR overrides."""
    env = os.environ.get("BGONE_MODEL_DIR")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir(APP)) / "models"


def custom_registry_path() -> Path:
    """Models imported with ``--like`` are recorded next to the files they describe."""
    return model_dir() / "custom-models.json"
