"""The FULL_TRANSITIVE gate: Apache Avro's checker (its Python package, in-process) over a schema
folder and its history. Every reason names the event, both versions, the direction and the field.

These cases gave the same verdicts and reasons (field, kind, location) as Avro's Java
SchemaCompatibility, the gate before ADR 0011.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from consumers.wire.compat import REPO_ROOT, Incompatibility, SchemaHistoryError, check_schema_history, main

COMPAT = Path(__file__).resolve().parent.parent / "fixtures" / "avro" / "compat"


def write_schema(path: Path, fields: list[dict[str, Any]], name: str = "Sample") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = {"type": "record", "name": name, "namespace": "kravsak.fixtures", "fields": fields}
    path.write_text(json.dumps(schema))


def test_kravsak_schemas_are_full_transitive_compatible_with_their_history() -> None:
    assert [str(i) for i in check_schema_history(REPO_ROOT / "schemas")] == []


def test_adding_fields_with_defaults_passes_against_all_earlier_versions() -> None:
    assert check_schema_history(COMPAT / "compatible") == []


def test_adding_a_field_without_default_fails_naming_the_field() -> None:
    assert check_schema_history(COMPAT / "field_without_default") == [
        Incompatibility(
            schema="PaymentRegistered",
            reader_version="current",
            writer_version="v1",
            direction="backward",
            field="channel",
            kind="READER_FIELD_MISSING_DEFAULT_VALUE",
            location="/fields/6",
            message="channel",
        )
    ]


def test_changing_a_field_from_int_to_string_fails_in_both_directions() -> None:
    found = check_schema_history(COMPAT / "type_change")
    assert [(i.reader_version, i.writer_version, i.direction, i.field, i.kind) for i in found] == [
        ("current", "v1", "backward", "days", "TYPE_MISMATCH"),
        ("v1", "current", "forward", "days", "TYPE_MISMATCH"),
    ]
    assert str(found[0]) == (
        "InterestAccrued: current cannot read data written with v1 (backward): field 'days' - "
        "TYPE_MISMATCH at /fields/1/type: reader type: string not compatible with writer type: int"
    )


def test_every_version_is_checked_against_every_earlier_one_not_just_the_previous(tmp_path: Path) -> None:
    history = tmp_path / "history" / "Sample"
    write_schema(history / "v1.avsc", [{"name": "a", "type": "int"}])
    # v2 drops `a`, v3 brings it back as a string: v2<->v3 and v1<->v2 are fine, v1<->v3 is not.
    write_schema(history / "v2.avsc", [{"name": "b", "type": "int", "default": 0}])
    write_schema(tmp_path / "Sample.avsc", [{"name": "a", "type": "string", "default": ""}])
    found = check_schema_history(tmp_path)
    assert {(i.reader_version, i.writer_version, i.field) for i in found} == {
        ("current", "v1", "a"),
        ("v1", "current", "a"),
        ("v1", "v2", "a"),  # v1's `a` has no default: v1 cannot read v2 data
    }


def test_a_current_schema_equal_to_the_newest_version_is_that_version(tmp_path: Path) -> None:
    history = tmp_path / "history" / "Sample"
    write_schema(history / "v1.avsc", [{"name": "a", "type": "int"}])
    write_schema(history / "v2.avsc", [{"name": "a", "type": "string"}])
    shutil.copy(history / "v2.avsc", tmp_path / "Sample.avsc")
    found = check_schema_history(tmp_path)
    assert {(i.reader_version, i.writer_version) for i in found} == {("v2", "v1"), ("v1", "v2")}


def test_nested_union_array_and_enum_changes_name_the_field_path(tmp_path: Path) -> None:
    money = {
        "type": "record",
        "name": "Money",
        "fields": [
            {"name": "minor_units", "type": "long"},
            {"name": "currency", "type": {"type": "enum", "name": "Currency", "symbols": ["NOK", "SEK"]}},
        ],
    }

    def lines(amount_type: str) -> dict[str, Any]:
        line = {"type": "record", "name": "Line", "fields": [{"name": "amount", "type": amount_type}]}
        return {"type": "array", "items": line}

    write_schema(
        tmp_path / "history" / "Sample" / "v1.avsc",
        [
            {"name": "amount", "type": money},
            {"name": "kid", "type": ["null", "string"], "default": None},
            {"name": "lines", "type": lines("long")},
        ],
    )
    money_nok_only = json.loads(json.dumps(money))
    money_nok_only["fields"][1]["type"]["symbols"] = ["NOK"]
    write_schema(
        tmp_path / "Sample.avsc",
        [
            {"name": "amount", "type": money_nok_only},
            {"name": "kid", "type": ["null", "long"], "default": None},
            {"name": "lines", "type": lines("int")},
        ],
    )
    found = check_schema_history(tmp_path)
    assert {(i.direction, i.field, i.kind) for i in found} == {
        ("backward", "amount.currency", "MISSING_ENUM_SYMBOLS"),
        ("backward", "kid", "MISSING_UNION_BRANCH"),
        ("forward", "kid", "MISSING_UNION_BRANCH"),
        ("backward", "lines[].amount", "TYPE_MISMATCH"),
    }


def test_renamed_record_is_reported_on_the_record_itself(tmp_path: Path) -> None:
    write_schema(tmp_path / "history" / "Sample" / "v1.avsc", [{"name": "a", "type": "int"}])
    write_schema(tmp_path / "Sample.avsc", [{"name": "a", "type": "int"}], name="Renamed")
    found = check_schema_history(tmp_path)
    assert {(i.field, i.kind, i.location) for i in found} == {("", "NAME_MISMATCH", "/name")}
    assert "the record itself" in str(found[0])


def test_a_field_that_is_no_longer_nullable_is_named_below_the_writers_union(tmp_path: Path) -> None:
    write_schema(tmp_path / "history" / "Sample" / "v1.avsc", [{"name": "kid", "type": ["null", "string"]}])
    write_schema(tmp_path / "Sample.avsc", [{"name": "kid", "type": "string"}])
    found = check_schema_history(tmp_path)
    assert [(i.direction, i.field, i.kind, i.location) for i in found] == [
        ("backward", "kid", "TYPE_MISMATCH", "/fields/0/type/0"),
    ]
    assert str(found[0]) == (
        "Sample: current cannot read data written with v1 (backward): field 'kid' - TYPE_MISMATCH at "
        "/fields/0/type/0: reader type: string not compatible with writer type: null"
    )


def test_a_current_schema_that_differs_from_the_newest_version_only_in_docs_is_that_version(tmp_path: Path) -> None:
    history = tmp_path / "history" / "Sample"
    write_schema(history / "v1.avsc", [{"name": "a", "type": "int"}])
    write_schema(history / "v2.avsc", [{"name": "a", "type": "string"}])
    write_schema(tmp_path / "Sample.avsc", [{"name": "a", "type": "string", "doc": "now documented"}])
    found = check_schema_history(tmp_path)
    assert {(i.reader_version, i.writer_version) for i in found} == {("v2", "v1"), ("v1", "v2")}


def test_gap_in_version_numbers_and_unparsable_schema_are_errors_naming_the_file(tmp_path: Path) -> None:
    history = tmp_path / "history" / "Sample"
    write_schema(history / "v1.avsc", [{"name": "a", "type": "int"}])
    write_schema(history / "v3.avsc", [{"name": "a", "type": "int"}])
    (tmp_path / "Broken.avsc").write_text('{"type": "record", "name": "Broken", "fields": [')
    with pytest.raises(SchemaHistoryError) as caught:
        check_schema_history(tmp_path)
    assert "version v2 is missing" in str(caught.value)
    assert "Broken.avsc" in str(caught.value)


def test_command_line_prints_one_line_per_incompatibility_and_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([str(COMPAT / "field_without_default")]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "PaymentRegistered: current cannot read data written with v1 (backward): field 'channel' - "
        "READER_FIELD_MISSING_DEFAULT_VALUE at /fields/6: channel"
    ]
