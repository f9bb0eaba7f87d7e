"""Throughput of the domain: commands/s and events/s through ``CollectionApp``.

``measure`` runs the standard workload in one process; ``measure_writers`` in several writer processes over
disjoint cases (each debtor, with its claims and their references, belongs to one writer), the way a second
core is used when one Python process is the bound (ADR 0030).

Run: ``python -m kravsak.bench.domain [N]``.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event

from rich.progress import Progress

from domain.application import CollectionApp
from domain.rules import load_all_rules
from kravsak.bench.workload import Command, execute, norwegian_claims, preload, setup


def measure(n: int, app: CollectionApp | None = None, *, batch: int = 0) -> dict[str, float]:
    """Run the generated workload; ``batch`` > 0 saves every ``batch`` commands in one unit of work."""
    app = app or CollectionApp()
    setup(app, "4601", max(n // 4, 1), date(2025, 1, 1))
    commands = list(norwegian_claims("4601", n, max(n // 4, 1)))
    load_all_rules()  # as the API's start does (``web.services``): not in the first command's time
    before = app.recorder.max_notification_id() or 0
    started, cpu = time.perf_counter(), time.process_time()
    with Progress(transient=True) as progress:
        task = progress.add_task("commands", total=len(commands))
        step = batch or 1
        for start in range(0, len(commands), step):
            with app.unit_of_work() if batch else _nothing():
                preload(app, commands[start : start + step])
                for command in commands[start : start + step]:
                    execute(app, command)
            progress.update(task, completed=start + step)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    events = (app.recorder.max_notification_id() or 0) - before
    return {
        "claims": n,
        "commands": len(commands),
        "events": events,
        "seconds": elapsed,
        "commands_per_s": len(commands) / elapsed,
        "events_per_s": events / elapsed,
        "cpu_us_per_event": cpu * 1e6 / max(events, 1),  # this process's CPU (not PostgreSQL's): robust to load
    }


def measure_writers(
    n: int, make_app: Callable[[], CollectionApp], *, processes: int = 2, batch: int = 500
) -> dict[str, float]:
    """``measure``'s workload (``n`` claims, the same commands) in ``processes`` writer processes over disjoint
    cases (``by_debtor``), each in ``unit_of_work`` batches of ``batch`` preloaded as ``measure`` does.
    ``make_app`` gives an app on one event store: the parent sets the store up with it and closes it, each
    writer (forked, so ``make_app`` need not be picklable) opens its own. The clock runs from the moment
    every writer is ready to the last one's end; ``cpu_us_per_event`` is the writers' CPU together."""
    debtors = max(n // 4, 1)
    app = make_app()
    try:
        setup(app, "4601", debtors, date(2025, 1, 1))
        before = app.recorder.max_notification_id() or 0
    finally:
        app.close()
    shares = by_debtor(list(norwegian_claims("4601", n, debtors)), processes)
    context = multiprocessing.get_context("fork")  # the writers start with the parent's imports, in milliseconds
    go = context.Event()
    pipes: list[Connection] = []
    writers: list[multiprocessing.process.BaseProcess] = []
    finished = False
    try:
        for share in shares:
            parent_end, child_end = context.Pipe()
            writer = context.Process(target=_write, args=(make_app, share, batch, go, child_end), daemon=True)
            writer.start()
            child_end.close()
            pipes.append(parent_end)
            writers.append(writer)
            # ready (its app made, its connection open) before the next starts: making an app may create the
            # store's tables (IF NOT EXISTS), which two sessions at once can fail on
            _answer(parent_end.recv(), "ready")
        started = time.perf_counter()
        go.set()
        cpu = sum(_answer(pipe.recv(), "done") for pipe in pipes)
        elapsed = time.perf_counter() - started
        finished = True
    finally:
        for process in writers:
            process.join(timeout=60 if finished else 0)
            if process.is_alive():
                process.kill()
                process.join()
    app = make_app()
    try:
        events = (app.recorder.max_notification_id() or 0) - before
    finally:
        app.close()
    commands = sum(len(share) for share in shares)
    return {
        "claims": n,
        "processes": processes,
        "commands": commands,
        "events": events,
        "seconds": elapsed,
        "commands_per_s": commands / elapsed,
        "events_per_s": events / elapsed,
        "cpu_us_per_event": cpu * 1e6 / max(events, 1),  # the writers' CPU together (not PostgreSQL's)
    }


def by_debtor(commands: Sequence[Command], parts: int) -> list[list[Command]]:
    """``commands`` of the standard workload in ``parts`` shares over disjoint cases: every command of a claim
    goes where its debtor goes (the debtor gathers its claims, so two writers never save one aggregate), each
    share in the order of ``commands``."""
    debtor_of: dict[tuple[str, str], str] = {}
    shares: list[list[Command]] = [[] for _ in range(parts)]
    for command in commands:
        key = (command.kwargs["creditor"], command.kwargs["invoice"])
        if command.verb == "issue_invoice":
            debtor_of[key] = command.kwargs["debtor_ref"]
        shares[int(debtor_of[key].removeprefix("D")) % parts].append(command)
    return shares


def _write(
    make_app: Callable[[], CollectionApp], commands: list[Command], batch: int, go: Event, pipe: Connection
) -> None:
    """One writer: ready, wait for the start, run its share, answer its CPU seconds (or the failure's text)."""
    try:
        app = make_app()
        load_all_rules()
        pipe.send(("ready", 0.0))
        go.wait()
        cpu = time.process_time()
        for start in range(0, len(commands), batch):
            with app.unit_of_work():
                preload(app, commands[start : start + batch])
                for command in commands[start : start + batch]:
                    execute(app, command)
        pipe.send(("done", time.process_time() - cpu))
        app.close()
    except BaseException as e:  # the parent must hear of it, not wait for ever
        pipe.send(("failed", f"{type(e).__name__}: {e}"))
        raise


def _answer(message: tuple[str, object], expected: str) -> float:
    kind, value = message
    if kind != expected:
        raise RuntimeError(f"a writer {kind}: {value}")
    assert isinstance(value, float)
    return value


@contextmanager
def _nothing() -> Iterator[None]:
    yield


if __name__ == "__main__":
    result = measure(
        int(sys.argv[1]) if len(sys.argv) > 1 else 20_000, batch=int(sys.argv[2]) if len(sys.argv) > 2 else 0
    )
    print(" ".join(f"{k}={v:.0f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))
