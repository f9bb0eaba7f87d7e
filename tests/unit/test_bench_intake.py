"""The bank-file stage's figures are judged against the issue's targets; an unreconciled import never passes."""

from __future__ import annotations

from typing import Any

from kravsak.bench.intake import figures, payments


def run(
    per_s: float, peak_mib: float, reconciled: bool = True, transactions: int = 100_000, child_mib: float = 0
) -> dict[str, Any]:
    return {"transactions": transactions, "transactions_per_s": per_s, "register_per_s": per_s * 1.2,
            "seconds": transactions / per_s, "check_seconds": 1.0, "register_seconds": 1.0,
            "peak_rss_bytes": peak_mib * 2**20, "check_process_peak_rss_bytes": child_mib * 2**20,
            "reconciled": reconciled, "one_way": {"transactions_per_s": per_s / 2}}  # fmt: skip


def test_rate_and_flat_memory_are_judged_against_their_targets() -> None:
    ocr, camt, memory = figures({"ocr": run(6_000, 120), "camt054": run(5_000, 125),
                                 "ocr_small": run(6_000, 110, transactions=10_000)})  # fmt: skip
    assert (ocr.met, camt.met, memory.met) == (True, True, True)
    slow, unreconciled, growing = figures({"ocr": run(4_999, 400), "camt054": run(9_000, 125, reconciled=False),
                                           "ocr_small": run(6_000, 110, transactions=10_000)})  # fmt: skip
    assert (slow.met, unreconciled.met, growing.met) == (False, False, False)


def test_the_files_pay_claims_by_kid_and_some_go_to_suspense() -> None:
    made = list(payments(100, claims=10))
    assert len({p.reference for p in made}) == 12  # 10 claims' KIDs and two unknown
    assert all(p.amount > 0 for p in made)


def test_a_missed_rate_carries_its_bound_where_the_importers_cpu_went() -> None:
    profiled = {**run(900, 120, transactions=10_000), "cpu_seconds": 8.0, "check_cpu_seconds": 1.5,
                "bound": {"profiled": "one import", "top_functions": [], "time_by_area": {"domain": 0.4}}}  # fmt: skip
    ocr, camt, _ = figures({"ocr": run(900, 120), "camt054": run(9_000, 125), "bounds": {"ocr": profiled},
                            "ocr_small": run(900, 110, transactions=10_000)})  # fmt: skip
    assert ocr.met is False and camt.bound is None and ocr.bound is not None
    assert ocr.bound["time_by_area"] == {"domain": 0.4}
    assert ocr.bound["cpu"]["register_cpu_seconds"] == 6.5 and ocr.bound["cpu"]["check_cpu_seconds"] == 1.5


def test_the_baseline_is_the_one_way_and_memory_counts_the_check_process() -> None:
    ocr, _, memory = figures({"ocr": run(6_000, 120, child_mib=40), "camt054": run(5_000, 125),
                              "ocr_small": run(6_000, 110, transactions=10_000, child_mib=40)})  # fmt: skip
    assert ocr.baseline == 3_000 and memory.met and memory.value == (120 + 40) / (110 + 40)
    _, _, growing = figures({"ocr": run(6_000, 120, child_mib=200), "camt054": run(5_000, 125),
                             "ocr_small": run(6_000, 110, transactions=10_000, child_mib=40)})  # fmt: skip
    assert growing.met is False
