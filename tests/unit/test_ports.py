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
