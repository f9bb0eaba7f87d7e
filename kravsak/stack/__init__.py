"""The local service stack behind `kravsak up`, `kravsak status` and `kravsak down`.

`up` is idempotent: it starts what is not running, leaves running servers alone, and only checks
servers named by KRAVSAK_PG_DSN / KRAVSAK_KAFKA_BOOTSTRAP / KRAVSAK_OIDC_*_ISSUER. If a later server
fails, `up` stops the ones it started itself in that call, so nothing is left half-started. One lock file per home
serialises concurrent `up`/`down` calls (a CLI and a test session, two test sessions).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from kravsak.logs import get_logger
from kravsak.settings import Settings, ensure_local_master_key
from kravsak.stack.base import Service, ServiceState, Step, quiet
from kravsak.stack.kafka import ExternalKafka, LocalKafka
from kravsak.stack.oidc import ExternalOidcProvider, LocalOidcProvider
from kravsak.stack.postgres import ExternalPostgres, LocalPostgres
from kravsak.stack.procs import exclusive

__all__ = ["ServiceState", "Step", "down", "reset", "services", "status", "up"]

log = get_logger(__name__)


def services(settings: Settings) -> list[Service]:
    """The servers of the stack, in start order."""
    postgres: Service = ExternalPostgres(settings) if settings.pg_is_external else LocalPostgres(settings)
    kafka: Service = ExternalKafka(settings) if settings.kafka_is_external else LocalKafka(settings)
    oidc: Service = ExternalOidcProvider(settings) if settings.oidc_is_external else LocalOidcProvider(settings)
    return [postgres, kafka, oidc]


def up(settings: Settings, step: Step = quiet) -> list[ServiceState]:
    """Make every server of the stack answer; the state of each afterwards."""
    states: list[ServiceState] = []
    started: list[Service] = []
    with exclusive(settings.home / "stack.lock"):
        # first: the local stack's data needs a local key (ADR 0014), and making the event store asks for the
        # office secret derived from it (the publisher's free-text digest key)
        made = ensure_local_master_key(settings)
        if made is not None:
            log.info("stack.master_key_created", path=str(made))
        try:
            for service in services(settings):
                began = time.monotonic()
                if service.ensure_running(step):
                    started.append(service)
                    state = dataclasses.replace(
                        service.state(), state="started", seconds=round(time.monotonic() - began, 1)
                    )
                else:
                    state = service.state()
                states.append(state)
        except BaseException:
            for service in reversed(started):
                try:
                    service.stop(step)
                except Exception as exc:  # report the first failure, not this one
                    log.error("stack.rollback_failed", service=service.name, error=str(exc))
            raise
    return states


def status(settings: Settings) -> list[ServiceState]:
    return [service.state() for service in services(settings)]


def down(settings: Settings, step: Step = quiet) -> list[ServiceState]:
    """Stop the servers this checkout runs (external ones are left alone), in reverse order."""
    with exclusive(settings.home / "stack.lock"):
        for service in reversed(services(settings)):
            service.stop(step)
    return status(settings)


def reset(settings: Settings, step: Step = quiet) -> list[Path]:
    """Stop the local servers and delete their data; jars and logs of Maven stay cached."""
    down(settings, step)
    removed: list[Path] = []
    with exclusive(settings.home / "stack.lock"):
        for service in services(settings):
            removed.extend(service.purge())
    return removed
