"""The Headwater console (``/console``): the built single-page app and its ``config.json``.

The app's source is ``console/`` at the repository root; its Vite build is committed into
``headwater/api/console_dist`` and shipped in the headwater-api wheel, so running Headwater
needs no Node. See docs/console.md.
"""

from __future__ import annotations

from headwater.api.console.routes import CONSOLE_DIST, console_routes

__all__ = ["CONSOLE_DIST", "console_routes"]
