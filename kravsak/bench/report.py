"""The bench on the terminal: the progress bar, the table of figures and the profile of a missed
target."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kravsak.bench.figures import ROOT, Figure, fmt_count, fmt_number, fmt_ratio, mark

console = Console(stderr=True)


def render_table(figures: Sequence[Figure], *, title: str) -> Table:
    table = Table(title=title, title_justify="left", show_lines=True)
    for column, justify in (
        ("figure", "left"),
        ("kravsak", "left"),
        ("baseline", "left"),
        ("ratio", "right"),
        ("target", "left"),
        ("", "center"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for f in figures:
        table.add_row(
            f.name.replace("_", " "),
            f.shown,
            f.baseline_shown,
            fmt_ratio(f.ratio),
            f.target.text() if f.target else "—",
            mark(f.met),
        )
    return table


def progress_bar() -> Progress:
    """The bench's progress bar on stderr, gone when done: ``with progress_bar() as bar: ...``."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _speed(machine: Mapping[str, Any]) -> str:
    """The machine's speed at the start and the end (``python_loop_seconds``), where the run measured it."""
    start, end = machine.get("python_loop_s_at_start"), machine.get("python_loop_s_at_end")
    if start is None or end is None:
        return ""
    return f" · 10⁷ Python additions in {start:.2f} → {end:.2f} s"


def print_report(document: Mapping[str, Any], figures: Sequence[Figure], path: Path) -> None:
    out = Console(width=None if sys.stdout.isatty() else 150)
    m = document["machine"]
    title = (
        f"kravsak bench {document['date']} · {m['cores']} cores, {m['ram_gib']} GiB, Python {m['python']} · "
        f"commit {m['git_commit'][:10]}{' (dirty)' if m['git_dirty'] else ''} · load average "
        f"{m['load_average_at_start'][0]} → {m['load_average_at_end'][0]} · {document['wall_seconds'] / 60:.1f} min"
        + _speed(m)
    )
    out.print(render_table(figures, title=title))
    for f in figures:
        if f.bound and f.bound.get("top_functions"):
            out.print(render_bound(f))
        elif f.bound and f.name == "end_to_end":
            b = f.bound
            out.print(
                f"bound of end to end: save → broker p50/p99 {fmt_number(b['save_to_broker_ms']['p50'])}/"
                f"{fmt_number(b['save_to_broker_ms']['p99'])} ms, broker → ledger p50/p99 "
                f"{fmt_number(b['broker_to_ledger_ms']['p50'])}/{fmt_number(b['broker_to_ledger_ms']['p99'])} ms; "
                f"the writer achieved {fmt_number(b['achieved_commands_per_s'])} commands/s "
                f"({fmt_number(b['saved_events_per_s'])} events/s)"
            )
        elif f.bound and f.name == "growth_ingest":
            sizes = ", ".join(
                f"at {fmt_count(int(events))} events {b['ms_per_command']} ms/command, "
                f"{b['store_reads_per_command']} store reads/command, {b['ms_per_store_read']} ms/read"
                for events, b in f.bound["at"].items()
            )
            out.print(f"bound of growth ingest ({f.bound['measured']}): {sizes}")
    for note in document["notes"]:
        out.print(f"note: {note}")
    out.print(f"written: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def _cpu_split(bound: Mapping[str, Any]) -> str:
    """Where an import's CPU went (the bank-file stage's bound), or nothing."""
    cpu = bound.get("cpu")
    if not cpu:
        return ""
    return (
        f"\nwall {cpu['wall_seconds']} s, importer CPU {cpu['cpu_seconds']} s: reading the file "
        f"{cpu['check_cpu_seconds']} s, registering {cpu['register_cpu_seconds']} s ({cpu['note']})"
    )


def render_bound(figure: Figure) -> Table:
    bound = figure.bound or {}
    areas = ", ".join(f"{area} {share * 100:.0f} %" for area, share in list(bound["time_by_area"].items())[:4])
    table = Table(
        title=f"bound of {figure.name.replace('_', ' ')}: {bound['profiled']} ({bound['profile_seconds']} s "
        f"profiled)\nown time by area: {areas}; top 5 functions by own time:{_cpu_split(bound)}",
        title_justify="left",
    )
    for column in ("function", "calls", "own s", "cumulative s", "share"):
        table.add_column(column, justify="left" if column == "function" else "right")
    for row in bound["top_functions"]:
        share = f"{row['share'] * 100:.0f} %" if row["share"] is not None else "—"
        table.add_row(row["function"], str(row["calls"]), f"{row['own_s']:.3f}", f"{row['cumulative_s']:.3f}", share)
    return table
