"""A port held by anything but this checkout's server is refused, naming the holder."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from kravsak.errors import PortInUse
from kravsak.stack.procs import port_holder, port_is_free, require_port_free


@pytest.fixture
def held_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_a_listening_port_is_not_free(held_port: int) -> None:
    assert not port_is_free(held_port)


def test_the_holder_of_a_port_is_found(held_port: int) -> None:
    holder = port_holder(held_port)

    assert holder is not None and holder.pid == os.getpid()


def test_a_held_port_is_refused_with_the_holder_and_the_ways_out(held_port: int, tmp_path: Path) -> None:
    with pytest.raises(PortInUse) as refused:
        require_port_free(
            held_port,
            server="PostgreSQL",
            home=tmp_path,
            port_var="KRAVSAK_PG_PORT",
            external_var="KRAVSAK_PG_DSN",
        )

    assert f"port {held_port} on 127.0.0.1 is in use by pid {os.getpid()}" in refused.value.problem
    assert f"not by the PostgreSQL of {tmp_path}" in refused.value.problem
    for way_out in ("`kravsak down` there", "KRAVSAK_PG_PORT", "KRAVSAK_PG_DSN"):
        assert way_out in refused.value.fix


def test_a_released_port_is_free() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

    assert port_is_free(port)
    require_port_free(port, server="Kafka", home=Path("."), port_var="X", external_var="Y")


def test_the_tests_own_servers_take_ports_the_kernel_never_gives_a_client(tmp_path: Path) -> None:
    """A cluster node killed by a fault test must find its port free when it starts again: ports outside the
    kernel's ephemeral range are never taken by an outgoing connection meanwhile."""
    from tests.support.stack import ephemeral_ports, free_ports

    ephemeral = ephemeral_ports()
    for _ in range(30):
        first = free_ports(9)
        assert all(first + n not in ephemeral and port_is_free(first + n) for n in range(9))
    table = tmp_path / "ip_local_port_range"
    table.write_text("40000\t50000\n")
    assert ephemeral_ports(table) == range(40000, 50001)
    assert ephemeral_ports(tmp_path / "missing") == range(32768, 61000)
