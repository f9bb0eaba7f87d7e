"""Java's SchemaCompatibility (this tool) beside Python's avro.compatibility, on every case we have.

    .venv/bin/python tools/avro-compat/compare.py [--show-agreements]

Cases: schemas/ with its history; the fixture folders tests/fixtures/avro/compat/*; the folders
tests/unit/test_compat.py builds; and edits of every field of every record in schemas/ (drop it,
add one without and with a default, change its type, widen or narrow it, make it nullable or not,
rename it with and without an alias, drop or add an enum symbol or a union branch, rename a
record), each as v1 -> current, plus chains v1 -> v2 -> current of two edits. Every pair of
versions is checked in both directions by both; a pair's verdict is "incompatible" when a checker
gives a reason. Reasons are compared as (field, kind, location); messages separately. Also compares
Java's and Python's canonical forms and CRC-64-AVRO fingerprints of every schema file, and the
single-object encoding of the codec fixture datum.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import avro.io
import avro.schema

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from consumers.wire import compat as java  # noqa: E402
from consumers.wire import compat_avro as python  # noqa: E402

Json = Any


# --- cases ------------------------------------------------------------------------------------


def write(path: Path, schema: Json) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema, indent=1, ensure_ascii=False), encoding="utf-8")


def sample(fields: list[Json], name: str = "Sample") -> Json:
    return {"type": "record", "name": name, "namespace": "kravsak.fixtures", "fields": fields}


def test_compat_cases(root: Path) -> list[Path]:
    """The folders tests/unit/test_compat.py writes to tmp_path."""
    a = root / "transitive"
    write(a / "history/Sample/v1.avsc", sample([{"name": "a", "type": "int"}]))
    write(a / "history/Sample/v2.avsc", sample([{"name": "b", "type": "int", "default": 0}]))
    write(a / "Sample.avsc", sample([{"name": "a", "type": "string", "default": ""}]))
    b = root / "current_is_newest"
    write(b / "history/Sample/v1.avsc", sample([{"name": "a", "type": "int"}]))
    write(b / "history/Sample/v2.avsc", sample([{"name": "a", "type": "string"}]))
    write(b / "Sample.avsc", sample([{"name": "a", "type": "string"}]))
    c = root / "nested"
    money = {
        "type": "record",
        "name": "Money",
        "fields": [
            {"name": "minor_units", "type": "long"},
            {"name": "currency", "type": {"type": "enum", "name": "Currency", "symbols": ["NOK", "SEK"]}},
        ],
    }

    def lines(amount_type: str) -> Json:
        return {
            "type": "array",
            "items": {"type": "record", "name": "Line", "fields": [{"name": "amount", "type": amount_type}]},
        }

    write(
        c / "history/Sample/v1.avsc",
        sample(
            [
                {"name": "amount", "type": money},
                {"name": "kid", "type": ["null", "string"], "default": None},
                {"name": "lines", "type": lines("long")},
            ]
        ),
    )
    nok = copy.deepcopy(money)
    nok["fields"][1]["type"]["symbols"] = ["NOK"]
    write(
        c / "Sample.avsc",
        sample(
            [
                {"name": "amount", "type": nok},
                {"name": "kid", "type": ["null", "long"], "default": None},
                {"name": "lines", "type": lines("int")},
            ]
        ),
    )
    d = root / "renamed"
    write(d / "history/Sample/v1.avsc", sample([{"name": "a", "type": "int"}]))
    write(d / "Sample.avsc", sample([{"name": "a", "type": "int"}], name="Renamed"))
    return [a, b, c, d]


PRIMITIVE_CHANGES = {
    "int": ["long", "string", "float"],
    "long": ["int", "double", "string"],
    "string": ["bytes", "int"],
    "bytes": ["string"],
    "boolean": ["string", "int"],
    "float": ["double", "int"],
    "double": ["float"],
}


def records(schema: Json) -> Iterator[Json]:
    """Every record definition inside a schema (the top one first)."""
    if isinstance(schema, dict):
        if schema.get("type") == "record":
            yield schema
            for f in schema["fields"]:
                yield from records(f["type"])
        elif schema.get("type") == "array":
            yield from records(schema["items"])
        elif schema.get("type") == "map":
            yield from records(schema["values"])
    elif isinstance(schema, list):
        for branch in schema:
            yield from records(branch)


def enums(schema: Json) -> Iterator[Json]:
    if isinstance(schema, dict):
        if schema.get("type") == "enum":
            yield schema
        for value in schema.values():
            if isinstance(value, dict | list):
                yield from enums(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from enums(value)


def base_type(t: Json) -> str | None:
    if isinstance(t, str):
        return t
    if isinstance(t, dict) and isinstance(t.get("type"), str) and t["type"] in PRIMITIVE_CHANGES:
        return str(t["type"])
    return None


Edit = tuple[str, Callable[[Json], None]]


def edits(schema: Json) -> list[Edit]:
    """Every single edit of ``schema``, each a (label, function that applies it to a copy)."""
    found: list[Edit] = []
    for r, record in enumerate(records(schema)):

        def at(fn: Callable[[Json], None], r: int = r) -> Callable[[Json], None]:
            return lambda s: fn(list(records(s))[r])

        found.append(
            (f"rec{r}:add-no-default", at(lambda rec: rec["fields"].append({"name": "added", "type": "string"})))
        )
        found.append(
            (
                f"rec{r}:add-default",
                at(lambda rec: rec["fields"].append({"name": "added", "type": "string", "default": ""})),
            )
        )
        found.append((f"rec{r}:rename-record", at(lambda rec: rec.update(name=rec["name"] + "X"))))
        found.append(
            (
                f"rec{r}:rename-record-alias",
                at(lambda rec: rec.update(name=rec["name"] + "X", aliases=[_full(schema, rec)])),
            )
        )
        for i, field in enumerate(record["fields"]):
            tag = f"rec{r}.{field['name']}"

            def on(fn: Callable[[Json], None], i: int = i) -> Callable[[Json], None]:
                return at(lambda rec: fn(rec["fields"][i]))

            found.append((f"{tag}:drop", at(lambda rec, i=i: rec["fields"].pop(i))))
            found.append((f"{tag}:rename", on(lambda f: f.update(name=f["name"] + "_x"))))
            found.append((f"{tag}:rename-alias", on(lambda f: f.update(name=f["name"] + "_x", aliases=[f["name"]]))))
            if "default" in field:
                found.append((f"{tag}:no-default", on(lambda f: f.pop("default"))))
            t = field["type"]
            primitive = base_type(t)
            if primitive is not None:
                for new in PRIMITIVE_CHANGES[primitive]:
                    found.append(
                        (
                            f"{tag}:{primitive}->{new}",
                            on(lambda f, new=new: (f.update(type=new), f.pop("default", None))),
                        )
                    )
                found.append((f"{tag}:nullable", on(lambda f: f.update(type=["null", f["type"]], default=None))))
            elif isinstance(t, list):
                rest = [b for b in t if b != "null"]
                if "null" in t and len(rest) == 1:
                    found.append(
                        (
                            f"{tag}:not-nullable",
                            on(lambda f, rest=rest: (f.update(type=rest[0]), f.pop("default", None))),
                        )
                    )
                found.append((f"{tag}:union+int", on(lambda f: f.update(type=[*f["type"], "int"]))))
                found.append((f"{tag}:union-reversed", on(lambda f: f.update(type=list(reversed(f["type"]))))))
            else:
                found.append((f"{tag}:->string", on(lambda f: (f.update(type="string"), f.pop("default", None)))))
                if isinstance(t, dict) and t.get("type") == "array" and base_type(t["items"]):
                    found.append((f"{tag}:items->boolean", on(lambda f: f["type"].update(items="boolean"))))
    for e, enum in enumerate(enums(schema)):

        def on_enum(fn: Callable[[Json], None], e: int = e) -> Callable[[Json], None]:
            return lambda s: fn(list(enums(s))[e])

        if len(enum["symbols"]) > 1:
            found.append((f"enum{e}:drop-symbol", on_enum(lambda en: en["symbols"].pop())))
            found.append(
                (
                    f"enum{e}:drop-symbol-with-default",
                    on_enum(lambda en: (en["symbols"].pop(), en.update(default=en["symbols"][0]))),
                )
            )
        found.append((f"enum{e}:add-symbol", on_enum(lambda en: en["symbols"].append("ADDED"))))
    return found


def _full(schema: Json, record: Json) -> str:
    namespace = record.get("namespace") or schema.get("namespace")
    return f"{namespace}.{record['name']}" if namespace and "." not in record["name"] else str(record["name"])


def edited(schema: Json, edit: Edit) -> Json:
    new = copy.deepcopy(schema)
    edit[1](new)
    return new


def edit_cases(root: Path) -> tuple[Path, int, int]:
    """One folder, one event type per edit or chain of two edits of a kravsak schema."""
    folder = root / "edits"
    singles = chains = 0
    for path in sorted((REPO / "schemas").glob("*.avsc")):
        original = json.loads(path.read_text(encoding="utf-8"))
        all_edits = edits(original)
        for n, edit in enumerate(all_edits):
            label = f"{path.stem}__{n:03d}"
            write(folder / "history" / label / "v1.avsc", original)
            write(folder / f"{label}.avsc", edited(original, edit))
            singles += 1
        for n, (first, second) in enumerate(itertools.pairwise(all_edits[::3])):
            label = f"{path.stem}__chain{n:03d}"
            write(folder / "history" / label / "v1.avsc", original)
            write(folder / "history" / label / "v2.avsc", edited(original, first))
            write(folder / f"{label}.avsc", edited(original, second))
            chains += 1
    return folder, singles, chains


# --- comparison -------------------------------------------------------------------------------

Pair = tuple[str, str, str, str]


def pairs(folder: Path) -> list[Pair]:
    found = []
    for event, versions in python._versions(folder).items():
        for newer in range(1, len(versions)):
            for older in range(newer):
                found.append((event, versions[newer].label, versions[older].label, "backward"))
                found.append((event, versions[older].label, versions[newer].label, "forward"))
    return found


def by_pair(found: list[Any]) -> dict[Pair, list[Any]]:
    grouped: dict[Pair, list[Any]] = defaultdict(list)
    for i in found:
        grouped[(i.schema, i.reader_version, i.writer_version, i.direction)].append(i)
    return grouped


def compare(name: str, folder: Path, show: bool, totals: Counter[str], wording: Wording) -> None:
    t0 = time.perf_counter()
    j = by_pair(java.check_schema_history(folder))
    t1 = time.perf_counter()
    p = by_pair(python.check_schema_history(folder))
    t2 = time.perf_counter()
    every = pairs(folder)
    assert set(j) <= set(every) and set(p) <= set(every), f"{name}: a checker labelled versions differently"
    counts: Counter[str] = Counter()
    for pair in every:
        jv, pv = bool(j.get(pair)), bool(p.get(pair))
        jr = sorted((i.field, i.kind, i.location) for i in j.get(pair, []))
        pr = sorted((i.field, i.kind, i.location) for i in p.get(pair, []))
        jm = sorted(i.message for i in j.get(pair, []))
        pm = sorted(i.message for i in p.get(pair, []))
        counts["pairs"] += 1
        counts["incompatible (Java)"] += jv
        counts["incompatible (Python)"] += pv
        counts["same verdict"] += jv == pv
        counts["same reasons (field, kind, location)"] += jr == pr
        counts["same messages"] += jm == pm
        counts["reasons (Java)"] += len(jr)
        counts["reasons (Python)"] += len(pr)
        if jv != pv or jr != pr or show:
            print(f"  {'DIFF' if (jv != pv or jr != pr) else 'same'} {' '.join(pair)}")
            print(f"    java:   {'incompatible' if jv else 'compatible'} {jr}")
            print(f"    python: {'incompatible' if pv else 'compatible'} {pr}")
        elif jm != pm:
            java_by_reason = {(i.field, i.kind, i.location): i.message for i in j[pair]}
            for i in p[pair]:
                java_text = java_by_reason[(i.field, i.kind, i.location)]
                if java_text != i.message:
                    wording[i.kind].add((java_text, i.message))
    print(
        f"{name}: {counts['pairs']} pairs, verdicts Java {counts['incompatible (Java)']} / Python "
        f"{counts['incompatible (Python)']} incompatible, same verdict {counts['same verdict']}, same reasons "
        f"{counts['same reasons (field, kind, location)']}, same messages {counts['same messages']} "
        f"(reasons Java {counts['reasons (Java)']} / Python {counts['reasons (Python)']}); "
        f"Java {t1 - t0:.2f} s, Python {t2 - t1:.2f} s"
    )
    totals.update(counts)


Wording = dict[str, set[tuple[str, str]]]


def compare_fingerprints(files: list[Path]) -> None:
    reference = java.java_fingerprints(files)
    same_canonical = same_fingerprint = differ_without_logical_type = 0
    example = ""
    for path, ref in zip(files, reference, strict=True):
        schema = avro.schema.parse(path.read_text(encoding="utf-8"))
        same_canonical += schema.canonical_form == ref.canonical_form
        fp = schema.fingerprint("CRC-64-AVRO")
        same_fingerprint += fp.hex() == ref.fingerprint_hex and int.from_bytes(fp, "little", signed=True) == (
            ref.fingerprint64
        )
        if schema.canonical_form != ref.canonical_form:
            differ_without_logical_type += "logicalType" not in path.read_text(encoding="utf-8")
            java_text, python_text = ref.canonical_form[:150], schema.canonical_form[:150]
            example = example or f"  e.g. {path.name}:\n    Java:   {java_text}\n    Python: {python_text}"
    print(
        f"fingerprints: {len(files)} schema files, same canonical form {same_canonical}, "
        f"same CRC-64-AVRO fingerprint {same_fingerprint}; of those that differ, {differ_without_logical_type} "
        "have no logicalType"
    )
    if example:
        print(example)


def compare_encoding() -> None:
    codec = REPO / "tests/fixtures/avro/codec"
    schema_path, datum_path = codec / "payment_registered_v1.avsc", codec / "payment_registered_v1.datum.json"
    reference = java.java_encode(schema_path, datum_path)
    schema = avro.schema.parse(schema_path.read_text(encoding="utf-8"))
    from datetime import UTC, date, datetime

    datum = {
        "event_id": "0b6f2c1e-3d4a-4e5f-8a9b-0c1d2e3f4a5b",
        "case_id": "NO-0301-2025-000042",
        "occurred_at": datetime(2025, 1, 15, 10, 0, 0, 123456, tzinfo=UTC),
        "paid_on": date(2025, 1, 15),
        "amount": {"minor_units": 125050, "currency": "NOK"},
        "kid": "0012345678903",
    }
    body = io.BytesIO()
    avro.io.DatumWriter(schema).write(datum, avro.io.BinaryEncoder(body))
    ours = b"\xc3\x01" + schema.fingerprint("CRC-64-AVRO") + body.getvalue()
    print(
        "single-object encoding of the codec fixture datum: "
        f"body {'same' if ours[10:] == reference[10:] else 'DIFFERENT'}, "
        f"header (C3 01 + fingerprint) {'same' if ours[:10] == reference[:10] else 'DIFFERENT'}"
    )


def main() -> int:
    show = "--show-agreements" in sys.argv
    totals: Counter[str] = Counter()
    wording: Wording = defaultdict(set)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        compare("schemas/", REPO / "schemas", show, totals, wording)
        for fixture in sorted((REPO / "tests/fixtures/avro/compat").iterdir()):
            compare(f"fixture {fixture.name}", fixture, show, totals, wording)
        for folder in test_compat_cases(root):
            compare(f"test_compat {folder.name}", folder, show, totals, wording)
        folder, singles, chains = edit_cases(root)
        print(f"edits of schemas/: {singles} single edits, {chains} chains of two")
        compare("edits of schemas/", folder, show, totals, wording)
        files = sorted((REPO / "schemas").rglob("*.avsc")) + sorted((REPO / "tests/fixtures/avro").rglob("*.avsc"))
        files += sorted(folder.glob("*.avsc"))
        compare_fingerprints(files)
    compare_encoding()
    print("\ntotal:")
    for key, value in totals.items():
        print(f"  {key}: {value}")
    print("messages worded differently (same reason), by kind: distinct pairs, one example")
    for kind, examples in sorted(wording.items()):
        java_text, python_text = sorted(examples)[0]
        print(f"  {kind}: {len(examples)}, e.g. Java {java_text!r} / Python {python_text!r}")
    agree = totals["same verdict"] == totals["pairs"] == totals["same reasons (field, kind, location)"]
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
