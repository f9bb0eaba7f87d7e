"""FULL_TRANSITIVE schema gate, decided in-process by Apache Avro's Python package (``avro.compatibility``).

``check_schema_history(schemas_dir)`` checks every version of every event schema against all its
earlier versions in both directions and returns the incompatibilities, each naming the event, the
two versions, the direction and the field.

Layout of ``schemas_dir``:

* ``<Event>.avsc``: the current schema of an event type;
* ``history/<Event>/v1.avsc, v2.avsc, ...``: its released versions, numbered from 1 without gaps.

A current schema equal to the newest history file (the same JSON, documentation aside) *is* that
version. One that differs is the next, unreleased version, labelled ``current``; releasing it means
copying it to ``history/<Event>/v<N+1>.avsc``. Directions: ``backward``, the newer schema reads data
written with the older one (new consumer, old events); ``forward``, the older schema reads data
written with the newer one (old consumer, new events).

Avro decides: a pair is incompatible exactly when ``ReaderWriterCompatibilityChecker`` says so. Its
Python result lists the reasons but keeps their locations and messages in unordered sets (and loses
the location below a writer union), so the reasons are named by walking the reader schema beside
the writer: records field by field, arrays and maps into their items and values, writer unions
branch by branch, asking Avro at every step and taking its own reason where one remains (ADR 0011).

Run ``python -m consumers.wire.compat [SCHEMAS_DIR]`` for the gate on the command line: one line per
incompatibility, exit status 1 when there are any, 2 when a schema file or the layout is broken.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import avro.errors
from avro.compatibility import (
    ReaderWriterCompatibilityChecker,
    SchemaCompatibilityResult,
    SchemaCompatibilityType,
    check_fixed_size,
    check_reader_enum_contains_writer_enum,
    check_schema_names,
    lookup_writer_field,
)
from avro.schema import ArraySchema, EnumSchema, FixedSchema, MapSchema, RecordSchema, Schema, UnionSchema, parse

REPO_ROOT = Path(__file__).resolve().parents[2]
_VERSION_FILE = re.compile(r"v([1-9][0-9]*)\.avsc")
CURRENT = "current"

Direction = Literal["backward", "forward"]


class SchemaHistoryError(ValueError):
    """A schema file does not parse, or the folder layout is broken."""


@dataclass(frozen=True)
class Incompatibility:
    """One reason why ``reader_version`` cannot read data written with ``writer_version``."""

    schema: str
    """Event type: the file name without ``.avsc``."""
    reader_version: str
    """``v1``, ``v2``, ... or ``current``."""
    writer_version: str
    direction: Direction
    field: str
    """Dotted path of the reader's field (``amount.currency``, ``lines[].amount``); empty when
    the record itself is meant (its name, say)."""
    kind: str
    """Avro's ``SchemaIncompatibilityType``, upper case as in the specification and the Java API:
    ``READER_FIELD_MISSING_DEFAULT_VALUE``, ``TYPE_MISMATCH``, ..."""
    location: str
    """JSON pointer into the reader schema, e.g. ``/fields/2/type``; a number after a union is the
    writer's branch."""
    message: str

    def __str__(self) -> str:
        what = f"field '{self.field}'" if self.field else "the record itself"
        return (
            f"{self.schema}: {self.reader_version} cannot read data written with {self.writer_version} "
            f"({self.direction}): {what} - {self.kind} at {self.location}: {self.message}"
        )


@dataclass(frozen=True)
class _Version:
    label: str
    path: Path
    schema: Schema


@dataclass(frozen=True)
class Reason:
    """One reason a reader schema cannot read a writer schema."""

    field: str
    kind: str
    location: str
    message: str


def check_schema_history(schemas_dir: Path) -> list[Incompatibility]:
    """Checks every schema version in ``schemas_dir`` against all earlier ones, both directions.

    Returns the incompatibilities (empty: the folder is FULL_TRANSITIVE compatible). Raises
    ``SchemaHistoryError`` when a schema does not parse or the folder layout is wrong.
    """
    found: list[Incompatibility] = []
    for event, versions in _versions(schemas_dir).items():
        for newer in range(1, len(versions)):
            for older in range(newer):
                pairs: list[tuple[_Version, _Version, Direction]] = [
                    (versions[newer], versions[older], "backward"),
                    (versions[older], versions[newer], "forward"),
                ]
                for reader, writer, direction in pairs:
                    found.extend(
                        Incompatibility(
                            event, reader.label, writer.label, direction, r.field, r.kind, r.location, r.message
                        )
                        for r in reasons(reader.schema, writer.schema)
                    )
    return found


def reasons(reader: Schema, writer: Schema) -> list[Reason]:
    """Why ``reader`` cannot read data written with ``writer``; empty when it can."""
    return _reasons(reader, writer, "", "")


def _verdict(reader: Schema, writer: Schema) -> SchemaCompatibilityResult:
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]  # avro leaves __init__ untyped
    return checker.get_compatibility(reader, writer)


def _incompatible(result: SchemaCompatibilityResult) -> bool:
    return result.compatibility is SchemaCompatibilityType.incompatible


def _reasons(reader: Schema, writer: Schema, pointer: str, path: str) -> list[Reason]:
    verdict = _verdict(reader, writer)
    if not _incompatible(verdict):
        return []
    found: list[Reason] = []
    if isinstance(reader, RecordSchema) and isinstance(writer, RecordSchema):
        found += _own(check_schema_names(reader, writer, ["/"]), pointer, path)
        for i, field in enumerate(reader.fields):
            where, name = f"{pointer}/fields/{i}", f"{path}.{field.name}" if path else field.name
            written = lookup_writer_field(writer_schema=writer, reader_field=field)
            if written is not None:
                found += _reasons(field.type, written.type, f"{where}/type", name)
            elif not field.has_default:
                if isinstance(field.type, EnumSchema) and field.type.props.get("default"):
                    found += _reasons(field.type, writer, f"{where}/type", name)  # Avro's rule, as in Java
                else:
                    found.append(Reason(name, "READER_FIELD_MISSING_DEFAULT_VALUE", where, field.name))
    elif isinstance(reader, ArraySchema) and isinstance(writer, ArraySchema):
        found += _reasons(reader.items, writer.items, f"{pointer}/items", f"{path}[]")
    elif isinstance(reader, MapSchema) and isinstance(writer, MapSchema):
        found += _reasons(reader.values, writer.values, f"{pointer}/values", f"{path}{{}}")
    elif isinstance(writer, UnionSchema) and isinstance(reader, UnionSchema):
        for j, branch in enumerate(writer.schemas):
            if _incompatible(_verdict(reader, branch)):
                message = f"reader union lacking writer type: {branch.type.upper()}"  # Avro's message
                found.append(Reason(path, "MISSING_UNION_BRANCH", f"{pointer}/{j}", message))
    elif isinstance(writer, UnionSchema):
        for j, branch in enumerate(writer.schemas):
            found += _reasons(reader, branch, f"{pointer}/{j}", path)
    elif isinstance(reader, EnumSchema) and isinstance(writer, EnumSchema):
        found += _own(check_schema_names(reader, writer, ["/"]), pointer, path)
        found += _own(check_reader_enum_contains_writer_enum(reader, writer, ["/"]), pointer, path)
    elif isinstance(reader, FixedSchema) and isinstance(writer, FixedSchema):
        found += _own(check_schema_names(reader, writer, ["/"]), pointer, path)
        found += _own(check_fixed_size(reader, writer, ["/"]), pointer, path)
    else:
        found += _own(verdict, pointer, path)
    if not found:  # Avro found a reason the walk did not reach: report it on the node, never drop it
        found.append(Reason(path, _kinds(verdict), pointer or "/", "; ".join(sorted(verdict.messages))))
    return found


def _own(result: SchemaCompatibilityResult, pointer: str, path: str) -> list[Reason]:
    """The reason of a check that has at most one (a leaf: a name, a size, a primitive type)."""
    if not _incompatible(result):
        return []
    locations = sorted(loc for loc in result.locations if loc != "/") or ["/"]
    if len(result.incompatibilities) != 1 or len(locations) != 1 or len(result.messages) != 1:
        return [Reason(path, _kinds(result), pointer or "/", "; ".join(sorted(result.messages)))]
    relative = locations[0]
    location = pointer + ("" if relative == "/" else relative)
    return [Reason(path, _kinds(result), location or "/", next(iter(result.messages)))]


def _kinds(result: SchemaCompatibilityResult) -> str:
    return ", ".join(sorted({kind.name.upper() for kind in result.incompatibilities}))


# --- the folder -------------------------------------------------------------------------------


def _versions(schemas_dir: Path) -> dict[str, list[_Version]]:
    if not schemas_dir.is_dir():
        raise SchemaHistoryError(f"{schemas_dir}: not a directory")
    errors: list[str] = []
    events: dict[str, list[_Version]] = {}
    history = schemas_dir / "history"
    if history.is_dir():
        for event_dir in sorted(history.iterdir()):
            if not event_dir.is_dir():
                errors.append(f"{event_dir}: only folders named after an event type belong in history/")
                continue
            numbered: dict[int, Path] = {}
            for file in sorted(event_dir.iterdir()):
                match = _VERSION_FILE.fullmatch(file.name)
                if match:
                    numbered[int(match.group(1))] = file
                else:
                    errors.append(f"{file}: version files are named v1.avsc, v2.avsc, ...")
            versions: list[_Version] = []
            expected = 1
            for number in sorted(numbered):
                if number != expected:
                    errors.append(
                        f"{event_dir}: version v{expected} is missing (versions are numbered from 1 without gaps)"
                    )
                expected = number + 1
                schema = _parse(numbered[number], errors)
                if schema is not None:
                    versions.append(_Version(f"v{number}", numbered[number], schema))
            events[event_dir.name] = versions
    for file in sorted(schemas_dir.glob("*.avsc")):
        schema = _parse(file, errors)
        if schema is None:
            continue
        versions = events.setdefault(file.stem, [])
        if not versions or _without_docs(versions[-1].schema) != _without_docs(schema):
            versions.append(_Version(CURRENT, file, schema))
    if errors:
        raise SchemaHistoryError("\n".join(errors))
    return dict(sorted(events.items()))


def _parse(file: Path, errors: list[str]) -> Schema | None:
    try:
        return parse(file.read_text(encoding="utf-8"))
    except (OSError, ValueError, avro.errors.AvroException) as exc:
        errors.append(f"{file}: {' '.join(str(exc).split())}")
        return None


def _without_docs(schema: Schema) -> Any:
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "doc"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(json.loads(str(schema)))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m consumers.wire.compat [SCHEMAS_DIR]``: the gate on the command line."""
    args = list(sys.argv[1:] if argv is None else argv)
    schemas_dir = Path(args[0]) if args else REPO_ROOT / "schemas"
    try:
        found = check_schema_history(schemas_dir)
    except SchemaHistoryError as exc:
        print(exc, file=sys.stderr)
        return 2
    for incompatibility in found:
        print(incompatibility)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
