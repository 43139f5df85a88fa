"""The bgone version: a module of its own, so the downloader (its User-Agent), the CLI and the
worker's hello read it without importing the package's ``__init__``."""

__version__ = "0.1.0"
