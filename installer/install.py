#!/usr/bin/env python3
"""bgone installer: one command that sets up bgone for GIMP 3 and Krita 5.

STANDARD LIBRARY ONLY (Python 3.10+). Run it through the launchers next to it (install.sh,
install.command, install.bat), or directly:

    python3 installer/install.py                 # install or upgrade/repair; asks before changing
    python3 installer/install.py --yes           # unattended
    python3 installer/install.py --dry-run       # show what it would do, change nothing
    python3 installer/install.py --uninstall     # remove everything it installed, nothing else

What it does, step by step (each step announced):
  1. find a Python 3.10-3.13 (or the one given with --python)
  2. find every GIMP 3 profile and Krita resource folder (Flatpak, Snap, AppImage included)
  3. create a private virtual environment in the user data folder
  4. install the bgone core into it (from the folder this installer sits in, a wheel next to
     it, or PyPI with --from-pypi)
  5. copy the plug-ins (with bgone_client.py and bgone_config.json) and enable the Krita one
  6. write the user config.json the plug-ins fall back to
  7. Flatpak hosts: check that they may start programs outside their sandbox
  8. download (or import, --model-file) the model
  9. send a generated image through the real worker, as the plug-ins do

The code is in the bgone_installer package beside this file (one module per part: steps,
transaction, host layouts, console, ...). Every change goes through a transaction (``Txn``) whose
actions know how to undo themselves. The same actions print instead of acting under
--dry-run, are undone in reverse when a step fails (rollback; the log file stays and its path is printed), and are recorded in a
manifest in the data folder, which --uninstall replays backwards.
"""

import os
import sys

# This file must still parse and run on an old Python, to say what is needed: the code that
# needs 3.10 is imported only after the check.
if sys.version_info < (3, 10):  # noqa: UP036
    sys.stderr.write(
        f"This installer needs Python 3.10-3.13; this is {sys.version.split()[0]}.\n"
        "Run it with a newer Python (python3.12 install.py), or use install.sh / install.command /"
        " install.bat, which find one.\n"
    )
    sys.exit(2)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# The plug-ins' client package (stdlib) from the bgone being installed: the installer asks it
# where the plug-ins look for their settings, rather than keeping a copy of that rule.
for _core in (os.path.join(os.path.dirname(HERE), "core"), os.path.join(HERE, "core")):
    if os.path.isdir(os.path.join(_core, "bgone_client")):
        sys.path.insert(1, _core)
        break
else:
    import glob

    sys.path[1:1] = sorted(glob.glob(os.path.join(HERE, "bgone-*.whl")))[-1:]  # a wheel is a zip

try:
    from bgone_installer.cli import main
except ImportError as e:
    sys.stderr.write(f"bgone's files next to the installer are incomplete ({e}).\n"
                     "Download the complete bgone package and unpack it again.\n")
    sys.exit(2)

if __name__ == "__main__":
    sys.exit(main())
