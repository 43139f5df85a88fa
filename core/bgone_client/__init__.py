"""bgone's host-side client. STANDARD LIBRARY ONLY, Python 3.8+.

Host applications (GIMP 3, Krita) embed their own Python, which must never import numpy or
onnxruntime, so the plug-ins start ``<core python> -u -m bgone.worker`` and talk to it with the
framed protocol of docs/protocol.md. The installer copies this package whole next to each
plug-in, which imports it as ``bgone_client``; the core's worker takes its framing from it, so
the two ends cannot drift apart.

    with bgone_client.Worker(plugin_dir=os.path.dirname(__file__)) as w:
        alpha = w.remove(rgba_bytes, width, height, progress=on_progress, cancelled=is_cancelled)
"""

from __future__ import annotations

from . import choices, layerops
from .errors import ClientError
from .framing import PROTOCOL_VERSION
from .locate import clean_env, find_core_python, user_config_dir
from .worker import Worker

__all__ = [
    "PROTOCOL_VERSION",
    "ClientError",
    "Worker",
    "choices",
    "clean_env",
    "find_core_python",
    "layerops",
    "user_config_dir",
]
