"""Shared fixtures.

Integration tests get their servers from kravsak's settings: the `stack` fixture runs the same
code as `kravsak up`, which reuses a running stack (or the servers named by KRAVSAK_PG_DSN and
KRAVSAK_KAFKA_BOOTSTRAP) and starts only what is missing. Tests share one database and one broker,
so every test makes its own names with `unique` (topics, groups, aggregate references).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from consumers.kafka_access import client_args
from kravsak import wiring  # noqa: F401 - the edges plugged in: letters projection, import_payments' reader
from kravsak.settings import Settings, load_settings
from kravsak.stack import ServiceState


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> list[ServiceState]:
    """The running stack, started if needed (idempotent, like `kravsak up`)."""
    from kravsak import stack as local_stack

    return local_stack.up(settings)


@pytest.fixture(scope="session")
def pg_dsn(stack: list[ServiceState], settings: Settings) -> str:
    return settings.pg_dsn


@pytest.fixture(scope="session")
def pg_env(stack: list[ServiceState], settings: Settings) -> dict[str, str]:
    """Environment for an eventsourcing Application that stores its events in PostgreSQL."""
    return settings.eventsourcing_env()


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: list[ServiceState], settings: Settings) -> str:
    return settings.kafka_bootstrap


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str) -> Iterator[Any]:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**client_args(kafka_bootstrap), client_id="kravsak-tests")
    yield admin
    admin.close()


@pytest.fixture
def unique() -> Callable[[str], str]:
    """unique("claims") -> "claims-3f2a…": a name no other test or run uses."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:12]}"
