"""FULL_TRANSITIVE schema gate, decided by Apache Avro's own Java checker.

``check_schema_history(schemas_dir)`` checks every version of every event schema against all its
earlier versions in both directions with ``org.apache.avro.SchemaCompatibility`` and returns the
incompatibilities, each naming the event, the two versions, the direction and the field.

Layout of ``schemas_dir``:

* ``<Event>.avsc``: the current schema of an event type;
* ``history/<Event>/v1.avsc, v2.avsc, ...``: its released versions, numbered from 1 without gaps.

A current schema equal to the newest history file (Java ``Schema.equals``: same structure,
defaults and properties) *is* that version. One that differs is the next, unreleased version,
labelled ``current``; releasing it means copying it to ``history/<Event>/v<N+1>.avsc``.
Directions: ``backward``, the newer schema reads data written with the older one (new consumer,
old events); ``forward``, the older schema reads data written with the newer one (old consumer,
new events).

The checker is ``tools/avro-compat`` (Java 17, Maven). The first call builds it, with Maven
resolving Avro from Maven Central, into ``.kravsak/avro-compat/<hash of its sources>/`` (under
``$KRAVSAK_HOME`` when that is set); later calls reuse that build and pay one JVM start (about
0.3 s) for a whole schema folder.

Run ``python -m consumers.wire.compat [SCHEMAS_DIR]`` for the gate on the command line: one line per
incompatibility, exit status 1 when there are any, 2 when a schema file or the layout is broken.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL_DIR = REPO_ROOT / "tools" / "avro-compat"
_SOURCES = ("pom.xml", "src/main/java/kravsak/AvroCompat.java")
_MAIN_CLASS = "kravsak.AvroCompat"
# A short-lived JVM: skip the optimising compiler, take the simplest collector.
_JVM_FLAGS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto")

Direction = Literal["backward", "forward"]


class CompatToolError(RuntimeError):
    """The checker could not run, or a schema file or the folder layout is broken."""


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
    """Avro's ``SchemaIncompatibilityType``, e.g. ``READER_FIELD_MISSING_DEFAULT_VALUE``."""
    location: str
    """Avro's JSON pointer into the reader schema, e.g. ``/fields/2/type``."""
    message: str

    def __str__(self) -> str:
        what = f"field '{self.field}'" if self.field else "the record itself"
        return (
            f"{self.schema}: {self.reader_version} cannot read data written with {self.writer_version} "
            f"({self.direction}): {what} - {self.kind} at {self.location}: {self.message}"
        )


@dataclass(frozen=True)
class JavaFingerprint:
    """What Java's ``SchemaNormalization`` says about a schema."""

    fingerprint_hex: str
    """The 8 little-endian bytes as hex, the ``schema-fingerprint`` header form."""
    fingerprint64: int
    """``parsingFingerprint64``, a signed long."""
    canonical_form: str


def check_schema_history(schemas_dir: Path, *, cache_dir: Path | None = None) -> list[Incompatibility]:
    """Checks every schema version in ``schemas_dir`` against all earlier ones, both directions.

    Returns the incompatibilities (empty: the folder is FULL_TRANSITIVE compatible). Raises
    ``CompatToolError`` when a schema does not parse or the folder layout is wrong.
    """
    result = _run_tool(["check", "--tsv", str(schemas_dir)], cache_dir=cache_dir, ok=(0, 1))
    found: list[Incompatibility] = []
    for line in result.stdout.splitlines():
        parts = line.split("\t")
        if parts[0] == "INCOMPATIBLE" and len(parts) == 9:
            direction = cast(Direction, parts[4])
            found.append(Incompatibility(parts[1], parts[2], parts[3], direction, *parts[5:]))
        elif line.strip():
            raise CompatToolError(f"unexpected output from the checker: {line!r}")
    return found


def java_fingerprints(schemas: Sequence[Path | str], *, cache_dir: Path | None = None) -> list[JavaFingerprint]:
    """Java's fingerprint and canonical form of each schema (a file, or JSON text like '"int"')."""
    if not schemas:
        return []
    result = _run_tool(["fingerprint", *map(str, schemas)], cache_dir=cache_dir)
    fingerprints = []
    for line in result.stdout.splitlines():
        hex_le, long_value, canonical = line.split("\t", 2)
        fingerprints.append(JavaFingerprint(hex_le, int(long_value), canonical))
    return fingerprints


def java_encode(schema: Path, datum_json: Path, *, cache_dir: Path | None = None) -> bytes:
    """Java's ``BinaryMessageEncoder`` output for a datum in Avro's JSON encoding."""
    result = _run_tool(["encode", str(schema), str(datum_json)], cache_dir=cache_dir)
    return bytes.fromhex(result.stdout.strip())


def tool_classpath(*, cache_dir: Path | None = None) -> str:
    """Classpath of the built checker, building it first if this version of it is not cached."""
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update((TOOL_DIR / name).read_bytes())
    build = (cache_dir or default_cache_dir()) / digest.hexdigest()[:16]
    if not (build / "classes").is_dir():
        _build(build)
    return os.pathsep.join([str(build / "classes"), str(build / "lib" / "*")])


def default_cache_dir() -> Path:
    """``$KRAVSAK_HOME/avro-compat``, by default ``.kravsak/avro-compat`` at the repo root."""
    home = os.environ.get("KRAVSAK_HOME")
    return (Path(home).expanduser() if home else REPO_ROOT / ".kravsak") / "avro-compat"


def _build(target: Path) -> None:
    mvn, javac = _executable("mvn"), _executable("javac")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename, so a parallel run never sees half a build.
    with tempfile.TemporaryDirectory(prefix=".build-", dir=target.parent) as tmp:
        staging = Path(tmp) / "build"
        lib = staging / "lib"
        _call(
            [mvn, "-B", "-q", "-f", str(TOOL_DIR / "pom.xml"), "dependency:copy-dependencies",
             f"-DoutputDirectory={lib}", "-DincludeScope=runtime"],
            "Maven could not resolve the checker's dependencies",
        )  # fmt: skip
        _call(
            [javac, "--release", "17", "-encoding", "UTF-8", "-nowarn", "-cp", str(lib / "*"),
             "-d", str(staging / "classes"), str(TOOL_DIR / _SOURCES[1])],
            "javac could not compile the checker",
        )  # fmt: skip
        try:
            staging.rename(target)
        except OSError:
            if not (target / "classes").is_dir():
                raise
    for stale in target.parent.iterdir():
        if stale != target and re.fullmatch(r"[0-9a-f]{16}", stale.name):
            shutil.rmtree(stale, ignore_errors=True)


def _run_tool(
    args: list[str], *, cache_dir: Path | None, ok: tuple[int, ...] = (0,)
) -> subprocess.CompletedProcess[str]:
    command = [
        _executable("java"),
        *_JVM_FLAGS,
        "-cp",
        tool_classpath(cache_dir=cache_dir),
        _MAIN_CLASS,
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", check=False)
    if result.returncode not in ok:
        problems = "\n".join(
            line.removeprefix("ERROR\t").replace("\t", ": ")
            for line in (result.stdout + result.stderr).splitlines()
            if line.strip()
        )
        raise CompatToolError(f"avro-compat {args[0]} failed (exit {result.returncode}):\n{problems}")
    return result


def _call(command: list[str], failure: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()[-30:]
        raise CompatToolError(f"{failure} (exit {result.returncode}): {' '.join(command)}\n" + "\n".join(output))


def _executable(name: str) -> str:
    java_home = os.environ.get("JAVA_HOME")
    if name != "mvn" and java_home and (Path(java_home) / "bin" / name).is_file():
        return str(Path(java_home) / "bin" / name)
    found = shutil.which(name)
    if found is None:
        raise CompatToolError(
            f"{name} not found: the schema compatibility gate needs a JDK 17+ and Maven "
            "(Debian: apt-get install openjdk-17-jdk-headless maven)"
        )
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m consumers.wire.compat [SCHEMAS_DIR]``: the gate on the command line."""
    args = list(sys.argv[1:] if argv is None else argv)
    schemas_dir = Path(args[0]) if args else REPO_ROOT / "schemas"
    try:
        found = check_schema_history(schemas_dir)
    except CompatToolError as exc:
        print(exc, file=sys.stderr)
        return 2
    for incompatibility in found:
        print(incompatibility)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
