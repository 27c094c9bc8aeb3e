"""Which webhook URLs a run may call: langgraph.json's ``webhooks.url`` policy.

``{"webhooks": {"url": {"require_https": false, "allowed_domains": ["hooks.example.com",
"*.corp.example"], "allowed_ports": [443], "disable_private_ips": true, "max_url_length":
4096}, "headers": {"x-hook-secret": "…"}}}``. Private, loopback and link-local addresses are
refused unless ``disable_private_ips`` is false: a webhook must not become a way to reach the
cluster's insides (langgraph-api tightened the same rule after GHSA-q3v5-r5ch-p57j). The API
checks the URL when the run is created; the worker checks the addresses the name resolves to
again right before it calls, so a name that later points inside is refused too.
"""

from __future__ import annotations

import asyncio
import fnmatch
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import msgspec

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class WebhookPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """The ``webhooks`` section of a langgraph.json."""

    require_https: bool = False
    allowed_domains: tuple[str, ...] = ()
    allowed_ports: tuple[int, ...] = ()
    disable_private_ips: bool = True
    max_url_length: int = 4096
    headers: dict[str, str] = msgspec.field(default_factory=dict)


def webhook_policy(raw_config: dict[str, Any]) -> WebhookPolicy:
    """The policy a project's raw langgraph.json declares (defaults when it says nothing)."""
    section = raw_config.get("webhooks") or {}
    url = section.get("url") or {}
    fields = {k: v for k, v in url.items() if k in WebhookPolicy.__struct_fields__}
    fields["headers"] = {str(k): str(v) for k, v in (section.get("headers") or {}).items()}
    return msgspec.convert(fields, WebhookPolicy)


def _private(address: str) -> bool:
    """Not a public unicast address; IPv6 forms that carry an IPv4 address are judged by it."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
        if int(ip) >> 32 == 0 or ip in NAT64:  # ::a.b.c.d and 64:ff9b::a.b.c.d
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if any(v4 is not None and (not v4.is_global or v4.is_multicast) for v4 in embedded):
            return True
    return not ip.is_global or ip.is_multicast


def url_problem(url: str, policy: WebhookPolicy) -> str | None:
    """Why ``url`` may not be called, or None. Checks what can be known without DNS."""
    if len(url) > policy.max_url_length:
        return f"webhook URL is longer than {policy.max_url_length} characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "webhook is not a valid URL"
    allowed_schemes = ("https",) if policy.require_https else ("http", "https")
    if parts.scheme not in allowed_schemes or not parts.hostname:
        return f"webhook must be an absolute {' or '.join(allowed_schemes)} URL"
    host = parts.hostname.lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if policy.allowed_domains and not any(
        fnmatch.fnmatch(host, pattern.lower()) for pattern in policy.allowed_domains
    ):
        return f"webhook host {host} is not among the allowed domains"
    if policy.allowed_ports and port not in policy.allowed_ports:
        return f"webhook port {port} is not allowed"
    if policy.disable_private_ips:
        if host == "localhost" or host.endswith(".localhost"):
            return "webhook may not point at a private or loopback address"
        try:
            if _private(host):
                return "webhook may not point at a private or loopback address"
        except ValueError:
            pass  # a name: its addresses are checked when the webhook is called
    return None


async def checked_addresses(url: str, policy: WebhookPolicy) -> tuple[str | None, list[str]]:
    """:func:`url_problem`, plus the addresses the host resolves to, just before calling.

    Returns the problem (or None) and, when private addresses are refused, the checked
    addresses: the caller connects to one of them, so that a second lookup cannot answer
    differently (DNS rebinding).
    """
    problem = url_problem(url, policy)
    if problem or not policy.disable_private_ips:
        return problem, []
    parts = urlsplit(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, parts.port or None, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        return f"webhook host does not resolve: {exc}", []
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses or any(_private(a) for a in addresses):
        return "webhook host resolves to a private or loopback address", []
    return None, addresses


async def resolved_problem(url: str, policy: WebhookPolicy) -> str | None:
    """Why ``url`` may not be called now, after DNS (see :func:`checked_addresses`)."""
    return (await checked_addresses(url, policy))[0]
