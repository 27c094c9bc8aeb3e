"""The exception a misconfiguration raises (kept light: ``main`` imports it before anything)."""

from __future__ import annotations


class StartupError(Exception):
    """A misconfiguration the user must fix; ``str()`` is the whole message."""
