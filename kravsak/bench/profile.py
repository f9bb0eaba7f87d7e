"""Stage 6, bounds: a short cProfile of each stage that missed its target (top functions and time
by area of the code)."""

from __future__ import annotations

import cProfile
import itertools
import pstats
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

import psycopg

from consumers.projector import (
    SCHEMAS_DIR,
    Applier,
    Decoder,
    Message,
    all_projections,
    cases_schema_for,
    ensure_projection,
    read_partition_range,
)
from consumers.projector import Target as ProjectionTarget
from consumers.publisher import PublisherOptions, run_publisher
from consumers.topics import case_events_spec, ensure_topics_at, schemas_spec
from consumers.wire.codec import SchemaStore
from kravsak.bench.figures import ROOT
from kravsak.bench.scratch import app_for
from kravsak.bench.stages import Resources, Sizes
from kravsak.bench.workload import CREDITOR, execute, norwegian_claims, preload, setup
from kravsak.settings import Settings
from projections.base import schema_name


def top_functions(stats: Mapping[Any, Any], total_seconds: float, n: int = 5) -> list[dict[str, Any]]:
    """The ``n`` functions with the most own time in a ``pstats.Stats.stats`` mapping
    ``{(file, line, name): (primitive calls, calls, own s, cumulative s, callers)}``."""
    ranked = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:n]
    out = []
    for (filename, line, name), (_, calls, own, cumulative, _) in ranked:
        where = _short_path(filename)
        out.append({
            "function": f"{where}:{line}({name})" if line else name,
            "calls": calls,
            "own_s": round(own, 4),
            "cumulative_s": round(cumulative, 4),
            "share": round(own / total_seconds, 3) if total_seconds else None,
        })  # fmt: skip
    return out


AREAS = (
    ("psycopg", "psycopg (PostgreSQL)"),
    ("/kafka/", "kafka-python"),
    ("fastavro", "fastavro"),
    ("/eventsourcing/", "eventsourcing"),
    ("/domain/", "domain"),
    ("/intake/", "intake"),
    ("netsgiro", "netsgiro"),
    ("lxml", "lxml"),
    ("/projections/", "projections"),
    ("/consumers/", "consumers"),
    ("/kravsak/", "kravsak"),
)


def time_by_area(stats: Mapping[Any, Any], total_seconds: float) -> dict[str, float]:
    """Share of the own time per library or kravsak package, largest first (``~``: built-ins, e.g.
    sockets and locks; the rest is the standard library)."""
    shares: dict[str, float] = {}
    for (filename, _, _), (_, _, own, _, _) in stats.items():
        area = next((name for marker, name in AREAS if marker in filename), None)
        area = area or ("built-ins" if filename == "~" else "standard library")
        shares[area] = shares.get(area, 0.0) + own
    ranked = sorted(shares.items(), key=lambda kv: kv[1], reverse=True)
    return {area: round(own / total_seconds, 3) if total_seconds else 0.0 for area, own in ranked}


def _short_path(filename: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/", str(ROOT) + "/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


@contextmanager
def profiled(out: dict[str, Any], what: str, follow: Sequence[str] = ()) -> Iterator[None]:
    """cProfile the block (this thread only); ``out`` gets the top 5 functions by own time, the
    own time by area, and the calls and cumulative time of the functions named in ``follow``."""
    profile = cProfile.Profile()
    began = time.perf_counter()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        stats: Any = pstats.Stats(profile)  # .stats and .total_tt are not in typeshed
        out.update(
            profiled=what,
            profile_seconds=round(time.perf_counter() - began, 2),
            top_functions=top_functions(stats.stats, stats.total_tt),
            time_by_area=time_by_area(stats.stats, stats.total_tt),
        )
        for name in follow:
            hits = [v for (_, _, fn), v in stats.stats.items() if fn == name]
            out[name] = {"calls": sum(h[1] for h in hits), "cumulative_s": round(sum(h[3] for h in hits), 4)}


def profile_ingest(settings: Settings, resources: Resources, sizes: Sizes) -> dict[str, Any]:
    schema = resources.schema("profile_ingest")
    app = app_for(settings, schema)
    bound: dict[str, Any] = {}
    try:
        claims = max(sizes.profile_commands // 3, 1)
        with app.unit_of_work():
            setup(app, CREDITOR, max(claims // 4, 1), date(2025, 1, 1))
        commands = list(norwegian_claims(CREDITOR, claims, max(claims // 4, 1)))[: sizes.profile_commands]
        with profiled(bound, f"{len(commands)} commands in one unit_of_work on PostgreSQL"):
            with app.unit_of_work():
                preload(app, commands)
                for command in commands:
                    execute(app, command)
    finally:
        app.close()
    return bound


def profile_growing_store(settings: Settings, schema: str, claims: int, count: int) -> dict[str, Any]:
    """``count`` more commands of the workload (the claims after the first ``claims``) on a store
    that already holds ``claims`` claims: the time per command and per aggregate load there."""
    app = app_for(settings, schema)
    more = (
        c for c in norwegian_claims(CREDITOR, claims + count, max(claims // 4, 1)) if int(c.kwargs["invoice"]) >= claims
    )
    commands = list(itertools.islice(more, count))
    out: dict[str, Any] = {}
    try:
        began = time.perf_counter()
        with profiled(out, f"{len(commands)} more commands on the store of {claims} claims", follow=["select_events"]):
            with app.unit_of_work():
                preload(app, commands)
                for command in commands:
                    execute(app, command)
        seconds = time.perf_counter() - began
    finally:
        app.close()
    loads = out["select_events"]
    out.update(
        ms_per_command=round(seconds / len(commands) * 1000, 3),
        store_reads_per_command=round(loads["calls"] / len(commands), 2),
        ms_per_store_read=round(loads["cumulative_s"] / loads["calls"] * 1000, 3) if loads["calls"] else None,
    )
    return out


def profile_publish(settings: Settings, resources: Resources, schema: str) -> dict[str, Any]:
    topic = resources.topic("profile-publish")
    resources.topics.append(f"{topic}-schemas")
    options = PublisherOptions(topic=topic, schemas_topic=f"{topic}-schemas", pg_schema=schema)
    ensure_topics_at(settings.kafka_bootstrap, [case_events_spec(topic), schemas_spec(options.schemas_topic)])
    bound: dict[str, Any] = {}
    with profiled(bound, f"run_publisher(once=True) over {schema}"):
        run_publisher(settings, stop_event=threading.Event(), once=True, options=options)
    return bound


def _first_messages(settings: Settings, topic: str, count: int) -> list[list[Message]]:
    batches, taken = [], 0
    for batch in read_partition_range(settings.kafka_bootstrap, topic, batch=count):
        batches.append(batch[: count - taken])
        taken += len(batches[-1])
        if taken >= count:
            break
    return batches


def profile_projection(
    settings: Settings, resources: Resources, topic: str, sizes: Sizes, *, one_at_a_time: bool, label: str = ""
) -> dict[str, Any]:
    """The runner's ``Applier`` over the topic's first messages: all three projections in one
    transaction (the live runner), or each projection alone in turn (what ``rebuild`` does)."""
    batches = _first_messages(settings, topic, sizes.profile_messages)
    count = sum(len(b) for b in batches)
    suffix = resources.suffix(label or ("profile_rebuild" if one_at_a_time else "profile_project"))
    cases = cases_schema_for(suffix)
    targets = [ProjectionTarget(p, schema_name(p.name, suffix=suffix)) for p in all_projections()]
    decoder = Decoder(SchemaStore.from_directory(SCHEMAS_DIR))
    bound: dict[str, Any] = {}
    with psycopg.connect(settings.pg_dsn) as conn:
        for t in targets:
            ensure_projection(conn, t.projection, t.schema, cases)
        groups = [[t] for t in targets] if one_at_a_time else [targets]
        what = "each projection alone (as rebuild)" if one_at_a_time else "all three in one transaction"
        with profiled(bound, f"Applier over the first {count} messages of {topic}, {what}"):
            for group in groups:
                applier = Applier(conn, group, decoder, cases_schema=cases)
                for batch in batches:
                    applier.apply_batch(batch)
    return bound
