"""Read timeouts and a header size limit for every HTTP server Headwater runs (uvicorn).

uvicorn 0.3x has neither: its only timer is the keep-alive one, armed after a response, so a
client that sends headers (or a body) a byte at a time holds a connection and a task forever,
and the httptools parser takes headers of any size (``h11_max_incomplete_event_size`` only
applies to the slower h11 parser). This protocol adds them on top of uvicorn's httptools one:

- the request line and headers must arrive within ``header_timeout_s`` of the connection (or
  of the request's first byte on a kept-alive connection): else 408 and the connection closes
  (silently, if the client never sent a byte);
- the body must arrive within ``body_timeout_s`` of the headers: else 408 and close;
- request line plus headers larger than ``max_header_bytes``: 431 and close.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from headwater.common.settings import Settings

SECURITY_HEADERS = (
    b"x-content-type-options: nosniff\r\nx-frame-options: DENY\r\nreferrer-policy: no-referrer\r\n"
)


class HeadersTooLarge(Exception):
    """The request line and headers passed the limit (httptools wraps it in a parser error)."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header/body read deadlines and a header size limit."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_header_bytes: int = 32768

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._in_request = False
        self._too_large = False

    # -- deadlines -------------------------------------------------------------------------
    def _arm(self, seconds: float, late: Any) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, late)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_late(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if not self._in_request or self._response_in_progress():
            self.transport.close()  # an idle connection, or one busy answering: no reply
            return
        self._refuse(408, b"Request Timeout", "The request headers were not received in time")

    def _body_late(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_started:
            self._refuse(408, b"Request Timeout", "The request body was not received in time")
        else:
            self.transport.close()

    def _response_in_progress(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _refuse(self, status: int, reason: bytes, detail: str) -> None:
        body = msgspec.json.encode({"detail": detail})
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n%s\r\n%s" % (status, reason, len(body), SECURITY_HEADERS, body)
        )
        self.transport.close()
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True  # the application's receive() sees a disconnect
            self.cycle.message_event.set()

    # -- uvicorn's protocol and parser callbacks -------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout_s, self._headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes, self._in_request = 0, True
        self._arm(self.header_timeout_s, self._headers_late)

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.max_header_bytes:
            self._too_large = True
            raise HeadersTooLarge

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        if not (self.parser.should_upgrade() and self._should_upgrade()):
            self._arm(self.body_timeout_s, self._body_late)  # WebSockets leave this protocol

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_request = False
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        self._disarm()
        if self._too_large:
            self._refuse(
                431,
                b"Request Header Fields Too Large",
                f"The request line and headers exceed {self.max_header_bytes} bytes",
            )
            return
        super().send_400_response(msg)


def http_protocol(settings: Settings) -> type[LimitedHttpToolsProtocol]:
    """The protocol class for ``uvicorn.Config(http=…)`` with the settings' limits."""
    return type(
        "LimitedHttpToolsProtocol",
        (LimitedHttpToolsProtocol,),
        {
            "header_timeout_s": settings.header_timeout_s,
            "body_timeout_s": settings.body_timeout_s,
            "max_header_bytes": settings.max_header_bytes,
        },
    )
