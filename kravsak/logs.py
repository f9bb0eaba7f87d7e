"""Logging: structlog, configured once per process by the entry point.

Two renderings of the same fields: `console` for people at a terminal (the CLI), `json` (one
object per line) for services and log collectors. Every line carries `timestamp` (UTC, ISO
8601), `level` and `event`, plus whatever is bound in the context, e.g.::

    with bound(topic=record.topic, partition=record.partition, offset=record.offset):
        log.info("event.applied", case_id=case_id)

Records from the standard library's `logging` (kafka-python, psycopg, eventsourcing) are rendered
the same way.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import structlog
from structlog.typing import Processor

LogMode = Literal["console", "json"]

get_logger = structlog.get_logger


class _StderrLogger:
    """Writes to whatever `sys.stderr` is at the time of the call.

    structlog's PrintLogger keeps the stream it was created with; looking it up per line lets
    rich's live spinner (which swaps `sys.stderr`) print log lines above itself.
    """

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler on whatever `sys.stderr` is at the time of the call (see _StderrLogger)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _stderr_logger_factory(*_args: Any) -> _StderrLogger:
    return _StderrLogger()


def configure(mode: LogMode = "console", level: str | int = "INFO") -> None:
    """Set up structlog and the standard library's logging for this process; safe to repeat."""
    numeric_level = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric_level, int):
        numeric_level = logging.INFO
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Processor
    if mode == "json":
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=_stderr_logger_factory,
        cache_logger_on_first_use=False,
    )
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric_level)
    # kafka-python reports every reconnect and coordinator move at INFO/WARNING; those are
    # normal while a broker starts or a group rebalances.
    logging.getLogger("kafka").setLevel(max(numeric_level, logging.ERROR))


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add fields (case_id, topic, partition, offset, ...) to every log line inside the block."""
    with structlog.contextvars.bound_contextvars(**fields):
        yield
