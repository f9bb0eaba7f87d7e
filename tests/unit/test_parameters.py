"""Legal parameters: every dated change is tested on the day before and on the day it starts.

The cases are read from the YAML files themselves, so a new dated value gets its two tests
without anyone writing them. Malformed files are written under ``tmp_path``.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

import domain.rules
from domain.rules.parameters import ParameterError, ParameterSet, load_parameter

RULES_DIR = Path(domain.rules.__file__).parent
FOLDERS = {"NO": RULES_DIR / "no" / "parameters", "SE": RULES_DIR / "se" / "parameters"}
ONE_DAY = timedelta(days=1)


def _doc(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), path
    return doc


def _files() -> list[tuple[str, Path]]:
    return [(j, p) for j, folder in FOLDERS.items() for p in sorted(folder.glob("*.yaml"))]


def _dated(path: Path) -> list[tuple[date, Decimal]]:
    return sorted((day, Decimal(str(spec["value"]))) for day, spec in _doc(path)["values"].items())


def _changes() -> list[Any]:
    cases = []
    for j, path in _files():
        dated = _dated(path)
        for (_, old), (day, new) in zip(dated, dated[1:], strict=False):
            cases.append(pytest.param(j, path.stem, day, old, new, id=f"{j}-{path.stem}-{day}"))
    return cases


def _parameters() -> list[Any]:
    return [pytest.param(j, p.stem, id=f"{j}-{p.stem}") for j, p in _files()]


def _file_params() -> list[Any]:
    return [pytest.param(p, id=f"{j}-{p.name}") for j, p in _files()]


PARAMETER_SETS = {j: ParameterSet(folder) for j, folder in FOLDERS.items()}


def test_both_jurisdictions_have_parameter_files_with_dated_changes() -> None:
    assert len(_files()) >= 30
    assert len(_changes()) >= 30


# --- every dated change, on the day before and on the day itself ------------------------------


@pytest.mark.parametrize(("jurisdiction", "name", "change_day", "old", "new"), _changes())
def test_dated_change_gives_old_value_the_day_before_and_new_value_on_the_day(
    jurisdiction: str, name: str, change_day: date, old: Decimal, new: Decimal
) -> None:
    params = PARAMETER_SETS[jurisdiction]
    assert params.value(name, change_day - ONE_DAY) == old
    assert params.value(name, change_day) == new
    assert params.on(name, change_day).since == change_day
    assert params.on(name, change_day - ONE_DAY).since < change_day


@pytest.mark.parametrize(("jurisdiction", "name"), _parameters())
def test_day_before_first_value_has_no_law_and_raises(jurisdiction: str, name: str) -> None:
    params = PARAMETER_SETS[jurisdiction]
    first = params[name].values[0].since
    assert params.value(name, first) == params[name].values[0].value
    with pytest.raises(ParameterError, match=name):
        params.value(name, first - ONE_DAY)
    with pytest.raises(ParameterError, match=first.isoformat()):
        params.on(name, first - ONE_DAY)


# --- confirmed_until ---------------------------------------------------------------------------


@pytest.mark.parametrize(("jurisdiction", "name"), _parameters())
def test_value_on_confirmed_until_carries_no_warning_and_the_day_after_does(jurisdiction: str, name: str) -> None:
    params = PARAMETER_SETS[jurisdiction]
    confirmed_until = params[name].confirmed_until
    on_the_day = params.on(name, confirmed_until)
    past_it = params.on(name, confirmed_until + ONE_DAY)
    assert on_the_day.warning is None
    assert past_it.warning is not None
    assert name in past_it.warning
    assert confirmed_until.isoformat() in past_it.warning
    assert past_it.value == PARAMETER_SETS[jurisdiction].value(name, confirmed_until + ONE_DAY)


def test_rettsgebyr_for_2026_is_the_2025_value_with_a_warning() -> None:
    no = PARAMETER_SETS["NO"]
    in_force = no.on("rettsgebyr", date(2026, 1, 1))
    assert in_force.value == Decimal("1314")
    assert in_force.since == date(2025, 1, 1)
    assert in_force.warning is not None and "rettsgebyr" in in_force.warning
    assert no.on("rettsgebyr", date(2025, 12, 31)).warning is None


def test_inkassosats_750_from_2026_is_confirmed_and_carries_no_warning() -> None:
    in_force = PARAMETER_SETS["NO"].on("inkassosats", date(2026, 1, 1))
    assert in_force.value == Decimal("750")
    assert in_force.warning is None
    assert in_force.confidence == "M"


# --- segments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("jurisdiction", "name"), _parameters())
def test_segments_split_exactly_at_each_change_and_at_confirmed_until(jurisdiction: str, name: str) -> None:
    param = PARAMETER_SETS[jurisdiction][name]
    start = param.values[0].since
    end = param.confirmed_until + timedelta(days=400)
    segments = param.segments(start, end)

    expected_starts = sorted({v.since for v in param.values} | {param.confirmed_until + ONE_DAY})
    assert [s.start for s in segments] == expected_starts
    assert segments[-1].end == end
    for left, right in zip(segments, segments[1:], strict=False):
        assert right.start == left.end + ONE_DAY
    assert sum(s.days for s in segments) == (end - start).days + 1
    for s in segments:
        assert s.value == param.value(s.start) == param.value(s.end)
        assert (s.warning is None) == (s.end <= param.confirmed_until)


def test_segments_across_one_change_give_one_day_on_each_side() -> None:
    rate = PARAMETER_SETS["NO"]["forsinkelsesrente"]
    segments = rate.segments(date(2025, 6, 30), date(2025, 7, 1))
    assert [(s.start, s.end, s.value, s.days) for s in segments] == [
        (date(2025, 6, 30), date(2025, 6, 30), Decimal("12.50"), 1),
        (date(2025, 7, 1), date(2025, 7, 1), Decimal("12.25"), 1),
    ]


def test_segments_inside_one_value_are_a_single_segment() -> None:
    rate = PARAMETER_SETS["NO"]["forsinkelsesrente"]
    [segment] = rate.segments(date(2024, 2, 1), date(2024, 2, 29))
    assert (segment.value, segment.days, segment.since, segment.warning) == (
        Decimal("12.50"),
        29,
        date(2024, 1, 1),
        None,
    )


def test_segments_of_an_empty_range_are_empty() -> None:
    rate = PARAMETER_SETS["NO"]["forsinkelsesrente"]
    assert rate.segments(date(2024, 3, 2), date(2024, 3, 1)) == []


def test_segments_starting_past_confirmed_until_all_carry_the_warning() -> None:
    ref = PARAMETER_SETS["SE"]["referensranta"]  # confirmed until 2026-06-30
    segments = ref.segments(date(2025, 3, 1), date(2026, 8, 1))
    assert [s.start for s in segments] == [date(2025, 3, 1), date(2025, 7, 1), date(2026, 1, 1), date(2026, 7, 1)]
    assert [bool(s.warning) for s in segments] == [False, False, False, True]
    late = ref.segments(date(2026, 7, 1), date(2027, 2, 1))
    assert late and all(s.warning and "referensranta" in s.warning for s in late)


# --- the files themselves ------------------------------------------------------------------------


@pytest.mark.parametrize("path", _file_params())
def test_parameter_file_has_description_unit_and_a_sourced_value_with_confidence(path: Path) -> None:
    doc = _doc(path)
    assert isinstance(doc.get("description"), str) and doc["description"].strip()
    assert isinstance(doc.get("unit"), str) and doc["unit"].strip()
    assert isinstance(doc.get("confirmed_until"), date)
    assert isinstance(doc.get("values"), dict) and doc["values"]
    for day, spec in doc["values"].items():
        assert isinstance(day, date), f"{path.name}: {day!r} is not a date"
        assert isinstance(spec["value"], str), f"{path.name} {day}: the value is written as a string"
        Decimal(spec["value"])
        assert isinstance(spec.get("source"), str) and spec["source"].strip(), f"{path.name} {day}: source"
        assert spec.get("confidence") in {"H", "M", "L"}, f"{path.name} {day}: confidence"


@pytest.mark.parametrize("path", _file_params())
def test_parameter_file_loads_with_its_name_and_all_its_values(path: Path) -> None:
    param = load_parameter(path)
    assert param.name == path.stem
    assert [v.since for v in param.values] == [d for d, _ in _dated(path)]


def test_rule_version_changes_when_any_parameter_file_changes(tmp_path: Path) -> None:
    for f in FOLDERS["NO"].glob("*.yaml"):
        (tmp_path / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    same = ParameterSet(tmp_path)
    assert same.digest == PARAMETER_SETS["NO"].digest
    rate = tmp_path / "forsinkelsesrente.yaml"
    rate.write_text(rate.read_text(encoding="utf-8").replace('"12.00"', '"11.75"'), encoding="utf-8")
    assert ParameterSet(tmp_path).digest != same.digest


# --- malformed files -----------------------------------------------------------------------------

GOOD_HEAD = "description: Test parameter\nunit: NOK\nconfirmed_until: 2026-12-31\n"


def _write(tmp_path: Path, text: str, name: str = "broken_parameter") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_float_value_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_HEAD + 'values:\n  2020-01-01: {value: 12.25, source: "s", confidence: H}\n')
    with pytest.raises(ParameterError, match=r"broken_parameter\.yaml value 2020-01-01.*never a float"):
        load_parameter(path)


def test_value_without_source_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_HEAD + 'values:\n  2020-01-01: {value: "1", confidence: H}\n')
    with pytest.raises(ParameterError, match=r"broken_parameter\.yaml value 2020-01-01.*source"):
        load_parameter(path)


@pytest.mark.parametrize("confidence", ["X", "h", "high", "1"])
def test_value_with_unknown_confidence_is_refused_naming_the_file(tmp_path: Path, confidence: str) -> None:
    value = f'{{value: "1", source: "s", confidence: {confidence}}}'
    path = _write(tmp_path, GOOD_HEAD + f"values:\n  2020-01-01: {value}\n")
    with pytest.raises(ParameterError, match=r"broken_parameter\.yaml value 2020-01-01.*confidence"):
        load_parameter(path)


def test_file_without_values_is_refused_naming_the_parameter(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_HEAD + "values: {}\n")
    with pytest.raises(ParameterError, match="broken_parameter.*at least one dated value"):
        load_parameter(path)


@pytest.mark.parametrize("field", ["description", "unit", "confirmed_until", "values"])
def test_file_missing_a_field_is_refused_naming_file_and_field(tmp_path: Path, field: str) -> None:
    full = {
        "description": "description: d\n",
        "unit": "unit: NOK\n",
        "confirmed_until": "confirmed_until: 2026-12-31\n",
        "values": 'values:\n  2020-01-01: {value: "1", source: "s", confidence: H}\n',
    }
    path = _write(tmp_path, "".join(text for key, text in full.items() if key != field))
    with pytest.raises(ParameterError, match=rf"broken_parameter\.yaml: missing field '{field}'"):
        load_parameter(path)


def test_confirmed_until_that_is_not_a_date_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'description: d\nunit: NOK\nconfirmed_until: "soon"\n'
        'values:\n  2020-01-01: {value: "1", source: "s", confidence: H}\n',
    )
    with pytest.raises(ParameterError, match=r"broken_parameter\.yaml confirmed_until.*not an ISO date"):
        load_parameter(path)


def test_value_keyed_by_something_other_than_a_date_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_HEAD + 'values:\n  next-year: {value: "1", source: "s", confidence: H}\n')
    with pytest.raises(ParameterError, match="not an ISO date"):
        load_parameter(path)


def test_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "- just\n- a list\n")
    with pytest.raises(ParameterError, match="broken_parameter"):
        load_parameter(path)


def test_file_that_is_not_yaml_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "description: [unclosed\n")
    with pytest.raises(ParameterError, match="not valid YAML"):
        load_parameter(path)


def test_folder_without_parameter_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="no parameter files"):
        ParameterSet(tmp_path)


def test_unknown_parameter_name_is_refused_naming_it() -> None:
    with pytest.raises(ParameterError, match="unknown parameter 'inkassosatz'"):
        PARAMETER_SETS["NO"].value("inkassosatz", date(2024, 1, 1))


def test_values_are_sorted_by_date_whatever_the_order_in_the_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        GOOD_HEAD + "values:\n"
        '  2022-01-01: {value: "2", source: "s", confidence: H}\n'
        '  2020-01-01: {value: "1", source: "s", confidence: M}\n',
    )
    param = load_parameter(path)
    assert param.value(date(2021, 12, 31)) == Decimal("1")
    assert param.value(date(2022, 1, 1)) == Decimal("2")
    assert param.on(date(2020, 6, 1)).confidence == "M"
