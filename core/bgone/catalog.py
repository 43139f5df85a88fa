"""The model list as every front end shows it (CLI, worker, plug-ins): one row definition, so a
model's size, licence and "good for" read the same everywhere a user picks a model."""

from __future__ import annotations

from typing import Any

from . import registry, store


def model_rows() -> list[dict[str, Any]]:
    """Every known model, built-in first, with what a user needs to choose one."""
    default = registry.default_model_name()
    return [
        {
            "name": m.name, "family": m.family, "description": m.description, "good_for": m.good_for,
            "size_label": m.size_label, "size": m.size, "installed": bool(store.is_installed(m)),
            "license": m.license, "licence_label": m.licence_label, "commercial_use": m.commercial_use,
            "default": m.name == default, "custom": m.custom, "input_size": list(m.input_size),
            "downloadable": bool(m.urls or m.archives),
        }
        for m in registry.all_models()
    ]
