"""The composition root of the three services: the publisher, the projector, the process manager.

As cosmicpython's ``bootstrap.py``: the services in ``consumers/`` take what they need — where the
servers are (``consumers.endpoints.Endpoints``, which ``Settings`` is), typed options, a stop event —
and read no environment. This module builds them from ``kravsak.settings`` and runs them:

    python -m kravsak.services publisher [--once]   # the same as `kravsak publish`
    python -m kravsak.services projector            # `kravsak project`
    python -m kravsak.services automate             # `kravsak automate`

Every service started here:

- logs structured lines (``kravsak.logs``): JSON unless ``KRAVSAK_LOG_FORMAT=console`` as a
  process, the CLI's format under the CLI; ``<service>.started`` / ``.stopped`` with its topic and group;
- stops on SIGTERM/SIGINT: the first sets the stop event, the service finishes the batch in hand
  and returns; a second exits at once with 128 + the signal (nothing is lost: every service resumes
  from what PostgreSQL holds);
- beats every few seconds in ``kravsak_ops.heartbeats`` with its lag (``consumers.heartbeat``;
  ``kravsak status`` shows them, ``kravsak health SERVICE`` exits 1 when stale) and deletes its row
  when it stops; rides out PostgreSQL and Kafka restarts without exiting (``consumers.outages``);
- ends with exit code 0 after a stop, or with the ``ServiceError``'s code (2) and one
  ``<service>.failed`` line naming the problem and the fix.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from domain.errors import ServiceError
from kravsak import logs
from kravsak.settings import (
    ClockKind,
    Settings,
    automate_clock,
    automate_options,
    heartbeat_interval,
    load_settings,
    projector_options,
    publisher_options,
    service_logging,
)

if TYPE_CHECKING:
    from consumers.automate import AutomateOptions, Clock
    from consumers.heartbeat import Heartbeat
    from consumers.projector import RunnerOptions
    from consumers.publisher import PublisherOptions, PublishReport
    from consumers.runner import RunReport

Service = Literal["publisher", "projector", "automate"]
SERVICES: tuple[Service, ...] = ("publisher", "projector", "automate")

log = logs.get_logger("kravsak.services")


@contextmanager
def stop_on_signals(service: str) -> Iterator[threading.Event]:
    """An event that SIGTERM/SIGINT set; a second signal exits at once (128 + the signal).

    Outside the main thread (a test running a service in a thread) no handler is installed and
    the event is only set by whoever holds it."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise SystemExit(128 + signum)
        log.info(f"{service}.stopping", signal=signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def heartbeat(settings: Settings, service: Service, name: str) -> Iterator[Heartbeat]:
    """The service's heartbeat; its row is deleted when the service stops cleanly."""
    from consumers.heartbeat import Heartbeat

    beating = Heartbeat(settings.pg_dsn, service, name=name, interval_s=heartbeat_interval())
    try:
        yield beating
    finally:
        beating.close()


def ensure_case_events(settings: Settings, topic: str) -> None:
    """The case-events topic with the partitions and replication the settings give."""
    from consumers.topics import case_events_spec, ensure_topics_at

    spec = case_events_spec(topic, partitions=settings.case_events_partitions, replication=settings.topic_replication)
    ensure_topics_at(settings.kafka_bootstrap, [spec])


# --- the three services --------------------------------------------------------------------------


def publish(settings: Settings, options: PublisherOptions | None = None, *, once: bool = False) -> PublishReport:
    """The publisher until SIGTERM/SIGINT (with ``once``: until the lag is 0)."""
    from consumers.publisher import run_publisher

    opts = options or publisher_options(settings)
    settings = settings.for_service("publisher")
    with stop_on_signals("publisher") as stop, heartbeat(settings, "publisher", opts.position_name) as beating:
        log.info("publisher.started", topic=opts.topic, name=opts.position_name, schema=opts.pg_schema)
        report = run_publisher(settings, stop_event=stop, once=once, options=opts, heartbeat=beating)
    log.info(
        "publisher.stopped", position=report.position, published=report.published, seconds=round(report.seconds, 1)
    )
    return report


def project(settings: Settings, options: RunnerOptions | None = None) -> RunReport:
    """One projection runner until SIGTERM/SIGINT (the batch in hand is finished)."""
    from consumers.projector import ProjectionRunner

    opts = options or projector_options()
    settings = settings.for_service("projector")
    ensure_case_events(settings, opts.topic)
    runner = ProjectionRunner(settings.pg_dsn, settings.kafka_bootstrap, opts)
    try:
        with stop_on_signals("projector") as stop, heartbeat(settings, "projector", opts.group) as beating:
            log.info("projector.started", topic=opts.topic, group=opts.group, projections=list(opts.projections))
            runner.runner.heartbeat = beating
            report = runner.run(stop)
    finally:
        runner.close()
    log.info("projector.stopped", applied=report.applied, skipped=report.skipped, parked=report.parked)
    return report


def clock_for(settings: Settings, kind: ClockKind, name: str = "default", schema: str | None = None) -> Clock:
    """The business clock: the calendar date, or a simulated date kept in PostgreSQL."""
    from consumers.automate import SCHEMA, SimulatedClock, SystemClock

    if kind == "system":
        return SystemClock()
    return SimulatedClock(settings.pg_dsn, name, schema=schema or SCHEMA)


def automate(settings: Settings, options: AutomateOptions | None = None, clock: Clock | None = None) -> None:
    """The process manager until SIGTERM/SIGINT: consume and tick (the batch in hand is finished)."""
    from consumers.automate import ProcessManager

    opts = options or automate_options()
    settings = settings.for_service("automate")
    if clock is None:
        kind, name = automate_clock()
        clock = clock_for(settings, kind, name, opts.schema)
    ensure_case_events(settings, opts.topic)
    manager = ProcessManager(settings, opts)
    try:
        with stop_on_signals("automate") as stop, heartbeat(settings, "automate", opts.group) as beating:
            manager.runner.heartbeat = beating
            log.info(
                "automate.started",
                topic=opts.topic,
                group=opts.group,
                schema=opts.schema,
                namespace=str(opts.namespace),
            )
            manager.run(clock, stop)
    finally:
        manager.close()
    log.info("automate.stopped")


# --- as a process --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kravsak.services <publisher|projector|automate> [--once]``; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    log_format, level = service_logging()
    logs.configure(log_format, level=level)
    if not args or args[0] not in SERVICES:
        log.error("services.usage", error=f"no service named {args[0]!r}" if args else "which service?", fix=_USAGE)
        return 2
    service: Service = args[0]
    starts: dict[Service, Callable[[Settings], object]] = {
        "publisher": lambda s: publish(s, once="--once" in args[1:]),
        "projector": project,
        "automate": automate,
    }
    try:
        settings = load_settings()
        starts[service](settings)
    except ServiceError as exc:
        log.error(f"{service}.failed", error=exc.problem, fix=exc.fix)
        return exc.exit_code
    return 0


_USAGE = "python -m kravsak.services publisher [--once] | projector | automate"


if __name__ == "__main__":
    sys.exit(main())
