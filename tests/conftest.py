"""Shared fixtures. Services are real: nats-server and PostgreSQL, isolated per session (see
tests/services.py for where they come from: the environment, else the PyPI wheels)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.services import GivenNats, NatsServer, create_database, drop_database


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer | GivenNats]:
    """A throwaway JetStream server for this test session (or ``HEADWATER_TEST_NATS_URL``'s)."""
    if url := os.environ.get("HEADWATER_TEST_NATS_URL"):
        yield GivenNats(url)
        return
    server = NatsServer()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (SQLAlchemy URL)."""
    url = create_database()
    yield url
    drop_database(url)


@pytest.fixture
def namespace() -> str:
    """A unique subject/stream prefix."""
    return f"t{uuid.uuid4().hex[:10]}"
