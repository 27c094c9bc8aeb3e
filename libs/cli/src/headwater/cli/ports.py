"""Is a port free? Asked before binding, so a clash names the setting that chose the port."""

from __future__ import annotations

import errno
import socket

from headwater.cli.startup_error import StartupError


def check_port_free(
    host: str, port: int, setting: str, hint: str = "stop what holds it or choose another port"
) -> None:
    """:class:`StartupError` naming ``setting`` when ``host:port`` cannot be bound."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(
                    f"port {port} on {host} is already in use ({setting} = {port}): {hint}"
                ) from exc
            raise StartupError(f"cannot bind {host}:{port} ({setting} = {port}): {exc}") from exc
