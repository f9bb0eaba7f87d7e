"""Apache Avro's Java answers, the oracle the Python codec is tested against (ADR 0011).

``java_fingerprints(schemas)`` gives Java's Parsing Canonical Form and CRC-64-AVRO fingerprint of each
schema, ``java_encode(schema, datum_json)`` Java's ``BinaryMessageEncoder`` bytes. Avro's own Python
package cannot serve: its canonical form keeps ``{"type": "string"}`` for a logical type where the
specification (and Java, and fastavro) write ``"string"``, so its fingerprints differ.

The oracle is ``tools/avro-reference`` (Java 17, Maven). The first call builds it, with Maven resolving
Avro from Maven Central, into ``.kravsak/avro-reference/<hash of its sources>/`` (under
``$KRAVSAK_HOME`` when that is set); later calls reuse that build and pay one JVM start (about 0.3 s).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL_DIR = REPO_ROOT / "tools" / "avro-reference"
_SOURCES = ("pom.xml", "src/main/java/kravsak/AvroReference.java")
_MAIN_CLASS = "kravsak.AvroReference"
# A short-lived JVM: skip the optimising compiler, take the simplest collector.
_JVM_FLAGS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto")


class JavaToolError(RuntimeError):
    """The Java oracle could not be built or run."""


@dataclass(frozen=True)
class JavaFingerprint:
    """What Java's ``SchemaNormalization`` says about a schema."""

    fingerprint_hex: str
    """The 8 little-endian bytes as hex, the ``schema-fingerprint`` header form."""
    fingerprint64: int
    """``parsingFingerprint64``, a signed long."""
    canonical_form: str


def java_fingerprints(schemas: Sequence[Path | str], *, cache_dir: Path | None = None) -> list[JavaFingerprint]:
    """Java's fingerprint and canonical form of each schema (a file, or JSON text like '"int"')."""
    if not schemas:
        return []
    output = _run(["fingerprint", *map(str, schemas)], cache_dir=cache_dir)
    fingerprints = []
    for line in output.splitlines():
        hex_le, long_value, canonical = line.split("\t", 2)
        fingerprints.append(JavaFingerprint(hex_le, int(long_value), canonical))
    return fingerprints


def java_encode(schema: Path, datum_json: Path, *, cache_dir: Path | None = None) -> bytes:
    """Java's ``BinaryMessageEncoder`` output for a datum in Avro's JSON encoding."""
    return bytes.fromhex(_run(["encode", str(schema), str(datum_json)], cache_dir=cache_dir).strip())


def tool_classpath(*, cache_dir: Path | None = None) -> str:
    """Classpath of the built oracle, building it first if this version of it is not cached."""
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update((TOOL_DIR / name).read_bytes())
    build = (cache_dir or default_cache_dir()) / digest.hexdigest()[:16]
    if not (build / "classes").is_dir():
        _build(build)
    return os.pathsep.join([str(build / "classes"), str(build / "lib" / "*")])


def default_cache_dir() -> Path:
    """``$KRAVSAK_HOME/avro-reference``, by default ``.kravsak/avro-reference`` at the repo root."""
    home = os.environ.get("KRAVSAK_HOME")
    return (Path(home).expanduser() if home else REPO_ROOT / ".kravsak") / "avro-reference"


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
            "Maven could not resolve the oracle's dependencies",
        )  # fmt: skip
        _call(
            [javac, "--release", "17", "-encoding", "UTF-8", "-nowarn", "-cp", str(lib / "*"),
             "-d", str(staging / "classes"), str(TOOL_DIR / _SOURCES[1])],
            "javac could not compile the oracle",
        )  # fmt: skip
        try:
            staging.rename(target)
        except OSError:
            if not (target / "classes").is_dir():
                raise
    for stale in target.parent.iterdir():
        if stale != target and re.fullmatch(r"[0-9a-f]{16}", stale.name):
            shutil.rmtree(stale, ignore_errors=True)


def _run(args: list[str], *, cache_dir: Path | None) -> str:
    command = [_executable("java"), *_JVM_FLAGS, "-cp", tool_classpath(cache_dir=cache_dir), _MAIN_CLASS, *args]
    result = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", check=False)
    if result.returncode != 0:
        raise JavaToolError(f"avro-reference {args[0]} failed (exit {result.returncode}):\n{result.stderr.strip()}")
    return result.stdout


def _call(command: list[str], failure: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()[-30:]
        raise JavaToolError(f"{failure} (exit {result.returncode}): {' '.join(command)}\n" + "\n".join(output))


def _executable(name: str) -> str:
    java_home = os.environ.get("JAVA_HOME")
    if name != "mvn" and java_home and (Path(java_home) / "bin" / name).is_file():
        return str(Path(java_home) / "bin" / name)
    found = shutil.which(name)
    if found is None:
        raise JavaToolError(
            f"{name} not found: the Java Avro oracle of the codec tests needs a JDK 17+ and Maven "
            "(Debian: apt-get install openjdk-17-jdk-headless maven)"
        )
    return found
