"""The cluster tests' own servers: a PostgreSQL and a three-node Kafka cluster (ADR 0031), started once for
`make test-cluster` and stopped at its end; nothing of the developer's stack is touched."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kravsak.bench.scratch import create_event_store
from kravsak.settings import Settings
from kravsak.stack.kafka import LocalKafka
from kravsak.stack.postgres import LocalPostgres
from tests.integration.test_service_outages import Pipeline
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


@pytest.fixture
def pipeline(servers: tuple[LocalPostgres, LocalKafka], tmp_path: Path) -> Iterator[Pipeline]:
    """One test's names on the cluster and its event store; its service processes killed afterwards."""
    postgres, kafka = servers
    pipe = Pipeline(postgres, kafka, tmp_path)
    create_event_store(pipe.dsn, pipe.event_store)
    yield pipe
    for p in pipe.processes.values():
        if p.poll() is None:
            p.kill()
            p.wait(10)
