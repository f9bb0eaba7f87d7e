"""Stage 4, end to end: commands offered at a steady rate with the publisher and a projector as
processes of their own; save → broker → ledger latency and the processes' peak RSS."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import Recording

from consumers.projector import (
    all_projections,
    stored_offsets,
)
from consumers.publisher import publisher_lag
from consumers.topics import case_events_spec, ensure_topics_at, schemas_spec
from domain.application import CollectionApp
from domain.claim import Claim, claim_id
from domain.errors import CommandRefused
from kravsak.bench.figures import ROOT, percentile
from kravsak.bench.publish import _append_times
from kravsak.bench.report import progress_bar
from kravsak.bench.stages import Resources, Sizes
from kravsak.bench.workload import CREDITOR, Command, execute, norwegian_claims, preload, setup
from kravsak.pipeline import end_offsets
from kravsak.settings import Settings, office_secret
from projections.base import schema_name


class _SavingApp(CollectionApp):
    """``CollectionApp`` that keeps the recordings of its last save (same tables: same name)."""

    name = CollectionApp.name
    last_recordings: list[Recording[Any]] = []

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[Any]]:
        recordings = super().save(*objs, **kwargs)
        if recordings:
            self.last_recordings = recordings
        return recordings


class LedgerWatch(threading.Thread):
    """Polls ``kravsak_ledger<suffix>.claims`` for the cases with commands in flight; a command is
    visible when its case's row holds a position at or after the command's last event."""

    def __init__(self, dsn: str, schema: str, interval_s: float = 0.01) -> None:
        super().__init__(name="ledger-watch", daemon=True)
        self.dsn, self.schema, self.interval_s = dsn, schema, interval_s
        self.pending: dict[str, list[tuple[int, float]]] = {}
        self.seen: list[tuple[int, float, float]] = []  # (position, saved at, visible at), epoch s
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def expect(self, case_id: str, position: int, saved_at: float) -> None:
        with self.lock:
            self.pending.setdefault(case_id, []).append((position, saved_at))

    def in_flight(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.pending.values())

    def run(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                # one look-up of the key per case (OFFSET 0 keeps it one), whatever the statistics say (ADR 0037)
                query = (
                    f"SELECT k.id, c.position FROM unnest(%s::text[]) AS k(id) CROSS JOIN LATERAL "
                    f'(SELECT position FROM "{self.schema}".claims WHERE case_id = k.id OFFSET 0) AS c'
                )
                while not self.stopping.is_set():
                    with self.lock:
                        cases = list(self.pending)
                    if cases:
                        asked = time.time()  # the snapshot: rows committed before it are visible
                        rows = conn.execute(query, (cases,)).fetchall()
                        with self.lock:
                            for case_id, position in rows:
                                waiting = self.pending.get(case_id, [])
                                ready = [w for w in waiting if w[0] <= position]
                                self.seen.extend((p, s, asked) for p, s in ready)
                                rest = [w for w in waiting if w[0] > position]
                                if rest:
                                    self.pending[case_id] = rest
                                else:
                                    self.pending.pop(case_id, None)
                    self.stopping.wait(self.interval_s)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self.error = exc


def peak_rss_mib(pid: int) -> dict[str, float]:
    """VmHWM (peak resident set) and VmRSS of a live process, MiB, from ``/proc/<pid>/status``."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out["peak_mib" if key == "VmHWM" else "rss_mib"] = round(int(rest.split()[0]) / 1024, 1)
    return out


def cpu_seconds_of(pid: int) -> float:
    """User and system CPU of a live process and of its live children (the publisher's preparing child), from
    ``/proc/<pid>/stat``: what the process cost, however busy the machine was."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        pids += [int(child) for child in children.read_text().split()]
    total = 0.0
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime (fields 14 and 15 of stat)
    return total


def _projected_to(dsn: str, suffix: str, topic: str, ends: Mapping[int, int]) -> bool:
    try:
        with psycopg.connect(dsn) as conn, conn.cursor() as cur:
            for p in all_projections():
                got = stored_offsets(cur, schema_name(p.name, suffix=suffix), topic)
                if any(got.get(part, 0) < end for part, end in ends.items()):
                    return False
    except psycopg.errors.UndefinedTable:
        return False
    return True


def _wait_for(
    condition: Callable[[], bool],
    what: str,
    timeout_s: float,
    procs: Sequence[subprocess.Popen[bytes]],
    logs_at: Sequence[Path],
) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        for proc, log_file in zip(procs, logs_at, strict=True):
            if proc.poll() is not None:
                tail = log_file.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} ({what}):\n{tail}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout_s:.0f} s")
        time.sleep(0.2)


def projector_env(topic: str, group: str, suffix: str, **more: str) -> dict[str, str]:
    """The environment of the bench's service processes: the projector's topic, group and schemas, quiet JSON logs."""
    return {
        **os.environ,
        "KRAVSAK_PROJECTOR_TOPIC": topic,
        "KRAVSAK_PROJECTOR_GROUP": group,
        "KRAVSAK_PROJECTOR_SCHEMA_SUFFIX": suffix,
        "KRAVSAK_PROJECTOR_SESSION_TIMEOUT_MS": "10000",
        "KRAVSAK_LOG_FORMAT": "json",
        "KRAVSAK_LOG_LEVEL": "WARNING",
        **more,
    }


def start_service(service: str, env: dict[str, str], log_file: Path, resources: Resources) -> subprocess.Popen[bytes]:
    """``python -m kravsak.services <service>`` with its output in ``log_file`` (removed with the run's resources)."""
    resources.files.append(log_file)
    with log_file.open("wb") as out:
        command = [sys.executable, "-m", "kravsak.services", service]
        return subprocess.Popen(command, env=env, stdout=out, stderr=out, cwd=ROOT)


def stop_services(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each (they finish the batch in hand), then SIGKILL to any still running 30 s later."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def measure_end_to_end(settings: Settings, resources: Resources, sizes: Sizes) -> dict[str, Any]:
    schema, topic, suffix = resources.schema("e2e"), resources.topic("e2e"), resources.suffix("e2e")
    group = f"bench-{resources.tag}-e2e"
    resources.groups.append(group)
    resources.topics.append(f"{topic}-schemas")
    spec = case_events_spec(topic)
    # LogAppendTime: the broker's own clock per record splits the latency at the broker
    ensure_topics_at(
        settings.kafka_bootstrap,
        [
            replace(spec, configs={**spec.configs, "message.timestamp.type": "LogAppendTime"}),
            schemas_spec(f"{topic}-schemas"),
        ],
    )
    app = _SavingApp(settings.eventsourcing_env(POSTGRES_SCHEMA=schema), office_secret=office_secret(settings))
    with app.unit_of_work():
        setup(app, CREDITOR, sizes.e2e_debtors, date(2025, 1, 1))
    env = projector_env(
        topic,
        group,
        suffix,
        KRAVSAK_PG_SCHEMA=schema,
        KRAVSAK_PUBLISHER_TOPIC=topic,
        KRAVSAK_PUBLISHER_SCHEMAS_TOPIC=f"{topic}-schemas",
    )
    procs: list[subprocess.Popen[bytes]] = []
    log_files: list[Path] = []
    for service in ("publisher", "projector"):
        log_files.append(Path(tempfile.gettempdir()) / f"kravsak-bench-{resources.tag}-{service}.log")
        procs.append(start_service(service, env, log_files[-1], resources))
    watch = LedgerWatch(settings.pg_dsn, schema_name("ledger", suffix=suffix))
    try:
        with progress_bar() as bar:
            task = bar.add_task("starting the publisher and the projector (processes)", total=None)
            started = time.monotonic()
            _wait_for(
                lambda: publisher_lag(settings.pg_dsn, name=topic, schema=schema) == 0,
                "publishing the set-up",
                90,
                procs,
                log_files,
            )
            ends = end_offsets(settings.kafka_bootstrap, topic)
            _wait_for(
                lambda: _projected_to(settings.pg_dsn, suffix, topic, ends),
                "projecting the set-up",
                90,
                procs,
                log_files,
            )
            ready_s = time.monotonic() - started
            cpu_before = [cpu_seconds_of(p.pid) for p in procs]
            watch.start()
            whole = sizes.e2e_warm_up_seconds + sizes.e2e_seconds
            bar.update(task, description=f"offering {sizes.e2e_rate:g} commands/s", total=whole)
            load = _offer_load(app, watch, sizes, lambda s: bar.update(task, completed=min(s, whole)))
            bar.update(task, description="waiting for the last commands to reach the ledger", total=None)
            drain_deadline = time.monotonic() + 60
            while watch.in_flight() and time.monotonic() < drain_deadline and watch.error is None:
                time.sleep(0.05)
            memory = {"publisher": peak_rss_mib(procs[0].pid), "projector": peak_rss_mib(procs[1].pid)}
            cpu = {
                who: round(cpu_seconds_of(p.pid) - before, 2)
                for who, p, before in zip(("publisher", "projector"), procs, cpu_before, strict=True)
            }
    finally:
        watch.stopping.set()
        stop_services(procs)
        app.close()
    if watch.error is not None:
        raise watch.error
    watch.join(5)
    lost = watch.in_flight()
    measured_from = load.pop("measured_from")
    warm = [(visible - saved) * 1000 for _, saved, visible in watch.seen if saved < measured_from]
    seen = [(p, saved, visible) for p, saved, visible in watch.seen if saved >= measured_from]
    latencies = [(visible - saved) * 1000 for _, saved, visible in seen]
    appended = _append_times(settings.kafka_bootstrap, topic, {p for p, _, _ in seen})
    to_broker = [(appended[p] - s) * 1000 for p, s, _ in seen if p in appended]
    broker_to_ledger = [(v - appended[p]) * 1000 for p, _, v in seen if p in appended]
    return {
        **load,
        "commands_visible": len(latencies),
        "commands_not_visible_within_60s": lost,
        "ready_seconds": round(ready_s, 1),
        "poll_interval_ms": watch.interval_s * 1000,
        "warm_up": {"seconds": sizes.e2e_warm_up_seconds, "commands": len(warm), "latency_ms": _spread(warm)},
        "latency_ms": _spread(latencies),
        "save_to_broker_ms": _spread(to_broker),
        "broker_to_ledger_ms": _spread(broker_to_ledger),
        "memory": memory,
        "cpu_seconds": cpu,
        "cpu_us_per_event": {who: round(c * 1e6 / max(load["events_with_warm_up"], 1), 1) for who, c in cpu.items()},
        "processes": ["python -m kravsak.services publisher", "python -m kravsak.services projector"],
    }


def _offer_load(app: _SavingApp, watch: LedgerWatch, sizes: Sizes, progress: Callable[[float], None]) -> dict[str, Any]:
    """Commands at ``e2e_rate`` a second, scheduled on the clock; every 20 ms tick saves the ones
    that are due in one ``unit_of_work``, at most 100 ms worth (a writer that cannot keep up falls
    behind its schedule: ``writer_delay_ms`` and the achieved rate say so; the latency counts
    from the save). The first ``e2e_warm_up_seconds`` warm up: their commands are saved alike, and
    counted apart (``measured_from``: when the measured ones begin, epoch seconds)."""
    commands = norwegian_claims(CREDITOR, 10**7, sizes.e2e_debtors)
    issued = refused = batches = events = 0
    behind_ms: list[float] = []
    warm_up = sizes.e2e_warm_up_seconds
    began = time.time()
    warm: tuple[int, int, int, int] | None = None  # issued, refused, batches, events when the measured part began
    while (elapsed := time.time() - began) < warm_up + sizes.e2e_seconds:
        if warm is None and elapsed >= warm_up:
            warm = (issued, refused, batches, events)
            behind_ms.clear()
        due = min(int(elapsed * sizes.e2e_rate) + 1 - issued, max(int(sizes.e2e_rate / 10), 1))
        if due > 0:
            batch: list[Command] = [next(commands) for _ in range(due)]
            with app.unit_of_work():
                preload(app, batch)  # one read for the tick's commands, as the API's bulk intake does
                for command in batch:
                    try:
                        execute(app, command)
                    except CommandRefused:
                        refused += 1
            saved = time.time()
            behind_ms.append((saved - began - issued / sizes.e2e_rate) * 1000)  # the batch's oldest command
            positions: dict[str, int] = {}
            events += len(app.last_recordings)
            for r in app.last_recordings:
                if isinstance(r.domain_event, Claim.Event):
                    case = str(r.domain_event.originator_id)
                    positions[case] = max(positions.get(case, 0), r.notification.id)
            app.last_recordings = []
            for command in batch:
                case = str(claim_id(app.namespace, command.kwargs["creditor"], command.kwargs["invoice"]))
                if case in positions:
                    watch.expect(case, positions[case], saved)
            issued += len(batch)
            batches += 1
        progress(elapsed)
        time.sleep(max(0.0, 0.02 - (time.time() - began - elapsed)))
    seconds = time.time() - began - warm_up
    w_issued, w_refused, w_batches, w_events = warm or (0, 0, 0, 0)
    return {
        "offered_commands_per_s": sizes.e2e_rate,
        "seconds": round(seconds, 1),
        "commands": issued - w_issued,
        "achieved_commands_per_s": round((issued - w_issued) / seconds, 1),
        "events": events - w_events,
        "events_with_warm_up": events,
        "events_per_s": round((events - w_events) / seconds, 1),
        "refused": refused - w_refused,
        "batches": batches - w_batches,
        "writer_delay_ms_p99": round(percentile(behind_ms, 99), 1) if behind_ms else None,
        "measured_from": began + warm_up,
    }


def _spread(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None}
    return {
        "count": len(values),
        "p50": round(percentile(values, 50), 1),
        "p95": round(percentile(values, 95), 1),
        "p99": round(percentile(values, 99), 1),
        "max": round(max(values), 1),
    }
