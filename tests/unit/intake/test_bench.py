"""`python -m intake.bench` runs end to end on small files; memory does not grow with the file."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

import intake
from intake import bench
from intake.model import FileFormat


def test_the_bench_measures_each_format_in_a_child_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--sizes", "300", "--formats", "ocr", "camt054", "bgmax", "--json"]) == 0

    results = json.loads(capsys.readouterr().out)
    assert [(r["format"], r["transactions"]) for r in results] == [("ocr", 300), ("camt054", 300), ("bgmax", 300)]
    assert all(r["peak_rss_bytes"] >= r["rss_before_bytes"] > 0 and r["check_per_second"] > 0 for r in results)
    assert all(0 < r["check_cpu_seconds"] and r["check_per_cpu_second"] > 0 for r in results)


@pytest.mark.parametrize("file_format", [FileFormat.OCR, FileFormat.CAMT054, FileFormat.BGMAX])
def test_memory_held_while_reading_does_not_grow_with_the_file(tmp_path: Path, file_format: FileFormat) -> None:
    peaks = []
    for count in (1_000, 6_000):
        path = tmp_path / f"{count}"
        bench.write(file_format, path, count)
        tracemalloc.start()
        with intake.check(path, file_format) as checked:
            assert sum(1 for _ in checked.transactions()) == count
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()

    assert peaks[1] - peaks[0] < 1_000_000, peaks  # six times the file, well under a megabyte more
