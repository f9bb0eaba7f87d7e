"""What every server of the stack offers `kravsak up`, `status` and `down`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

Step = Callable[[str], None]
"""Told what a long step is doing now ("downloading Kafka's jars"), e.g. to drive a spinner."""

State = Literal["started", "running", "stopped", "external", "unreachable"]


def quiet(_message: str) -> None:
    """A Step that shows nothing."""


@dataclass(frozen=True)
class ServiceState:
    name: str
    state: State
    address: str
    connect: str
    """What a client passes to reach it: the (redacted) DSN or the bootstrap string."""
    version: str | None = None
    pid: int | None = None
    data_dir: Path | None = None
    log_file: Path | None = None
    seconds: float | None = None
    """How long `up` took to start it, when it started it."""
    details: tuple[str, ...] = ()
    """More lines for `kravsak status` (a Kafka cluster's nodes, controller, under-replicated partitions)."""


class Service(Protocol):
    name: str

    def ensure_running(self, step: Step) -> bool:
        """Start the server unless it runs; True if this call started it."""
        ...

    def stop(self, step: Step) -> bool:
        """Stop the server if this checkout runs it; True if this call stopped it."""
        ...

    def state(self) -> ServiceState: ...

    def purge(self) -> list[Path]:
        """Delete the server's data (the server must be stopped); the folders removed."""
        ...
