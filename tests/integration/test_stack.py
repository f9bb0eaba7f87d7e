"""`kravsak up` is idempotent and tells this checkout's servers from anyone else's."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kravsak import stack as local_stack
from kravsak.errors import PortInUse
from kravsak.settings import Settings
from kravsak.stack import ServiceState
from kravsak.stack.base import quiet
from kravsak.stack.kafka import LocalKafka
from kravsak.stack.oidc import LocalOidcProvider

pytestmark = pytest.mark.integration


def test_up_again_reuses_the_running_servers(settings: Settings, stack: list[ServiceState]) -> None:
    again = local_stack.up(settings)

    assert [s.state for s in again] == [("external" if s.state == "external" else "running") for s in stack]
    assert [s.pid for s in again] == [s.pid for s in stack]


def test_status_shows_every_server_answering(settings: Settings, stack: list[ServiceState]) -> None:
    states = {s.name: s for s in local_stack.status(settings)}

    assert set(states) == {"PostgreSQL", "Kafka", "OpenID provider"}
    assert all(s.state in ("running", "external") for s in states.values())


def test_another_checkout_on_the_same_ports_is_told_the_port_is_in_use(
    settings: Settings, stack: list[ServiceState], tmp_path: Path
) -> None:
    if settings.pg_is_external or settings.kafka_is_external:
        pytest.skip("needs the local stack")
    other_checkout = dataclasses.replace(settings, home=tmp_path / ".kravsak")

    with pytest.raises(PortInUse) as postgres_refused:
        local_stack.up(other_checkout)
    with pytest.raises(PortInUse) as kafka_refused:
        LocalKafka(other_checkout).ensure_running(quiet)
    if not settings.oidc_is_external:
        with pytest.raises(PortInUse, match=f"port {settings.oidc_port} "):
            LocalOidcProvider(other_checkout).ensure_running(quiet)

    assert f"port {settings.pg_port} " in postgres_refused.value.problem
    assert f"port {settings.kafka_port} " in kafka_refused.value.problem
    assert "`kravsak down` there" in postgres_refused.value.fix
    assert not (tmp_path / ".kravsak" / "pg").exists()
