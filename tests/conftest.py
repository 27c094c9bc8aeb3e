"""Shared fixtures. Services are real: nats-server and PostgreSQL, isolated per session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.services import NatsServer, create_database, drop_database


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    """A throwaway JetStream server for this test session."""
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
