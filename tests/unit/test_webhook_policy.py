"""Which webhook URLs a run may call (langgraph.json ``webhooks.url``)."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from headwater.common.webhooks import WebhookPolicy, resolved_problem, url_problem, webhook_policy

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://192.168.0.10/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::127.0.0.1]/hook",
        "http://[64:ff9b::7f00:1]/hook",
        "http://[2002:7f00:1::]/hook",
        "http://[fe80::1]/hook",
    ],
)
def test_private_and_loopback_addresses_are_refused_by_default(url: str) -> None:
    assert "private" in (url_problem(url, WebhookPolicy()) or "")


@pytest.mark.parametrize(
    "url", ["ftp://hooks.example.com/x", "/relative/hook", "hooks.example.com"]
)
def test_only_absolute_http_urls(url: str) -> None:
    assert "absolute" in (url_problem(url, WebhookPolicy()) or "")


@pytest.mark.parametrize("url", ["http://[::1", "http://host:99999/x", "http://host:port/x"])
def test_malformed_urls_are_a_problem_not_an_exception(url: str) -> None:
    assert url_problem(url, WebhookPolicy()) == "webhook is not a valid URL"


def test_a_public_name_passes_the_static_check() -> None:
    assert url_problem("https://hooks.example.com/run-done", WebhookPolicy()) is None


def test_the_policy_of_a_langgraph_json() -> None:
    policy = webhook_policy(
        {
            "webhooks": {
                "url": {
                    "require_https": True,
                    "allowed_domains": ["*.example.com"],
                    "allowed_ports": [443, 8443],
                    "max_url_length": 60,
                    "unknown_key": 1,
                },
                "headers": {"x-secret": "s"},
            }
        }
    )
    assert policy.headers == {"x-secret": "s"}
    assert url_problem("https://hooks.example.com/x", policy) is None
    assert "https" in (url_problem("http://hooks.example.com/x", policy) or "")
    assert "allowed domains" in (url_problem("https://evil.test/x", policy) or "")
    assert "port" in (url_problem("https://a.example.com:9443/x", policy) or "")
    assert "longer" in (url_problem("https://a.example.com/" + "x" * 60, policy) or "")
    assert webhook_policy({}) == WebhookPolicy()


def test_loopback_is_allowed_when_the_project_says_so() -> None:
    policy = webhook_policy({"webhooks": {"url": {"disable_private_ips": False}}})
    assert url_problem("http://127.0.0.1:9000/hook", policy) is None


async def test_a_name_resolving_inside_is_refused_when_called() -> None:
    host = socket.gethostname()  # the machine's own name: /etc/hosts points it inside
    addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    if all(ipaddress.ip_address(a).is_global for a in addresses):
        pytest.skip(f"{host} resolves to public addresses here: {addresses}")
    assert url_problem(f"http://{host}/hook", WebhookPolicy()) is None, "a name passes statically"
    problem = await resolved_problem(f"http://{host}/hook", WebhookPolicy())
    assert problem == "webhook host resolves to a private or loopback address"
    missing = await resolved_problem("http://no-such-host.invalid/hook", WebhookPolicy())
    assert missing is not None and "does not resolve" in missing
