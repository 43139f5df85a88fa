"""bgone's installer, split by what each part does; ``installer/install.py`` is its entry point.

Standard library only (Python 3.10+): it runs with whatever Python the user has, before bgone's
own environment exists. The names every part shares live here.
"""

from __future__ import annotations

APP = "bgone"
MIN_PY = (3, 10)
MAX_PY = (3, 13)
PY_RANGE = f"{MIN_PY[0]}.{MIN_PY[1]}-{MAX_PY[0]}.{MAX_PY[1]}"
GIMP_PLUGIN = "bgone-remove-background"
GIMP_PROCEDURES = "plug-in-bgone-"  # what the names of the plug-in's GIMP procedures start with
KRITA_PLUGIN = "bgone_krita"
GIMP_FLATPAK = "org.gimp.GIMP"
KRITA_FLATPAK = "org.kde.krita"
FLATPAK_TALK = "org.freedesktop.Flatpak"
MANIFEST = "install-manifest.json"
KRITARC_SECTION = "python"
KRITARC_KEY = "enable_bgone_krita"
PLUGIN_SETTINGS_SECTION = "bgone"  # where the Krita plug-in keeps its last choices (kritarc)
# Test hook: raise right after the step with this key (rollback tests, the host harness).
FAIL_AFTER_ENV = "BGONE_INSTALLER_FAIL_AFTER"


class InstallError(Exception):
    """A failure a user can act on: ``message`` says what went wrong, ``hint`` what to do."""

    def __init__(self, message: str, hint: str = "", code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code
