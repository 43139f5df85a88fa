"""Where bgone keeps its files. Environment variables win so tests and portable installs can
redirect everything without touching the user's real cache."""

from __future__ import annotations

import os
import re
from pathlib import Path

import platformdirs

from .errors import BgoneError

APP = "bgone"
# Model names and their files are plain names inside the model folder: never a path, never
# hidden, never empty, so no name can make an import write, or a removal delete, elsewhere.
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MAX_NAME = 64
NAME_RULE = (f"letters, digits, '.', '_' and '-', starting with a letter or digit, at most "
             f"{MAX_NAME} characters")


def model_dir() -> Path:
    """Model files live in the user cache (large, re-downloadable); BGONE_MODEL_DIR overrides."""
    env = os.environ.get("BGONE_MODEL_DIR")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir(APP)) / "models"


def custom_registry_path() -> Path:
    """Models imported with ``--like`` are recorded next to the files they describe."""
    return model_dir() / "custom-models.json"


def check_model_name(name: str) -> str:
    """``name`` if it may name a model (and so its file ``<name>.onnx``), else a clear error."""
    if not (isinstance(name, str) and len(name) <= MAX_NAME and _PLAIN.fullmatch(name)):
        raise BgoneError(f"{name!r} cannot be a model name.",
                         f"A model name may use only {NAME_RULE} (e.g. my-model).",
                         kind="bad_argument")
    return name


def model_file(file: str) -> Path:
    """The path of a registry entry's ``file``: a plain file name inside the model folder."""
    if not (isinstance(file, str) and len(file) <= 2 * MAX_NAME and _PLAIN.fullmatch(file)):
        raise BgoneError(
            f"The model file {file!r} in the registry is not a plain file name.",
            f"A model file name may use only {NAME_RULE.replace(str(MAX_NAME), str(2 * MAX_NAME))}."
            " Remove that entry from custom-models.json, or reinstall bgone.",
            kind="registry",
        )
    return model_dir() / file
