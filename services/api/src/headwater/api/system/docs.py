"""``/docs``: Swagger UI over the OpenAPI schema, its assets served from the package.

The UI (npm ``swagger-ui-dist`` 5.35.0, Apache-2.0; see ``static/swagger-ui/README.md``) loads
nothing from the internet, so the API docs work offline and behind strict egress rules.
"""

from __future__ import annotations

from pathlib import Path

from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.router import Router
from litestar.static_files import create_static_files_router

ASSETS = Path(__file__).parent.parent / "static" / "swagger-ui"
ASSETS_PATH = "/docs/static/swagger-ui"


def docs_ui() -> SwaggerRenderPlugin:
    """The ``/docs`` page, pointing at the packaged assets."""
    return SwaggerRenderPlugin(
        path="/",
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
    )


def docs_assets() -> Router:
    """Serves the UI's files under ``/docs/static/swagger-ui``."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[ASSETS],
        include_in_schema=False,
        name="docs-assets",
    )
