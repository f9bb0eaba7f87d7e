"""What a service needs to know of its servers: the port the composition root fills.

The services in ``consumers/`` read no environment and no settings module. Whoever starts one
(``kravsak.services``, the CLI, a test) passes an object with these three members;
``kravsak.settings.Settings`` is one, by its shape alone.
"""

from __future__ import annotations

from typing import Protocol


class Endpoints(Protocol):
    """Where the event store's PostgreSQL and the Kafka cluster are."""

    @property
    def pg_dsn(self) -> str:
        """The psycopg connection string of the event store database."""
        ...

    @property
    def kafka_bootstrap(self) -> str:
        """The Kafka bootstrap servers, comma-separated host:port."""
        ...

    def eventsourcing_env(self, **overrides: str) -> dict[str, str]:
        """The environment for an eventsourcing ``Application`` storing its events in that PostgreSQL."""
        ...
