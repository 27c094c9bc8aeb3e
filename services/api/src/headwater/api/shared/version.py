"""The API's version, as installed (``/info``, the OpenAPI document, the console)."""

from __future__ import annotations

from importlib.metadata import version

HEADWATER_VERSION = version("headwater-api")
