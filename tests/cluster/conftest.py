"""The cluster tests' own servers: a PostgreSQL and a three-node Kafka cluster (ADR 0031), started once for
`make test-cluster` and stopped at its end; nothing of the developer's stack is touched."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from kravsak.settings import Settings
from kravsak.stack.kafka import LocalKafka
from kravsak.stack.postgres import LocalPostgres
from tests.integration.test_service_outages import pipeline  # noqa: F401 - the same fixture, on these servers
from tests.support.stack import private_cluster, private_postgres


@pytest.fixture(scope="session")
def servers(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalPostgres, LocalKafka]]:
    """KRAVSAK_TEST_CLUSTER_PORT: the first of the nine consecutive ports the nodes take (default: free ones)."""
    first_port = int(os.environ["KRAVSAK_TEST_CLUSTER_PORT"]) if os.environ.get("KRAVSAK_TEST_CLUSTER_PORT") else None
    with (
        private_postgres(settings, tmp_path_factory.mktemp("pg-home")) as postgres,
        private_cluster(settings, tmp_path_factory.mktemp("cluster-home"), first_port=first_port) as kafka,
    ):
        yield postgres, kafka
