"""Java for the broker and its jars, resolved by Maven from Maven Central once and then reused.

`pom.xml` beside this module names Kafka plus the SLF4J binding its POMs lack. Maven copies the
runtime dependencies into `<home>/kafka/lib/<version>/`; a `.complete` file there records a hash
of the POM and version, so a later start uses the folder without running Maven, and a changed
POM or version resolves again. Maven's own cache (~/.m2) makes a re-resolve after
`rm -rf .kravsak` work offline.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from kravsak.errors import MavenCentralUnreachable, MavenFailed, ToolMissing
from kravsak.logs import get_logger
from kravsak.stack.base import Step
from kravsak.stack.procs import tail

log = get_logger(__name__)

JAVA_MIN_MAJOR = 17  # Kafka 4 brokers need Java 17+
MAVEN_TIMEOUT_S = 900
# Full coordinates: a plugin prefix ("dependency:") would cost a metadata download on every run.
COPY_DEPENDENCIES = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies"

_NETWORK_SIGNS = (
    "UnknownHostException",
    "Temporary failure in name resolution",
    "Connection refused",
    "Connection reset",
    "connect timed out",
    "Connect timed out",
    "Read timed out",
    "Network is unreachable",
    "No route to host",
    "Could not transfer artifact",
    "Could not transfer metadata",
    "PKIX path building failed",
)


def packaged_file(name: str) -> str:
    """The text of a file shipped beside this module (pom.xml, log4j2.xml)."""
    return resources.files("kravsak.stack.kafka").joinpath(name).read_text()


def find_java() -> str:
    """The `java` to run the broker with: $JAVA_HOME/bin/java, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not candidate or not Path(candidate).is_file():
        raise ToolMissing(
            "Java is not installed (no `java` on PATH or in $JAVA_HOME); the local Kafka needs Java 17+",
            "`apt-get install openjdk-17-jre-headless`, or use a running Kafka with KRAVSAK_KAFKA_BOOTSTRAP",
        )
    result = subprocess.run([candidate, "-version"], capture_output=True, text=True, timeout=30)
    major = java_major(result.stderr + result.stdout)
    if major is None or major < JAVA_MIN_MAJOR:
        raise ToolMissing(
            f"{candidate} is Java {major or '?'}; Kafka 4 needs Java {JAVA_MIN_MAJOR} or newer",
            "`apt-get install openjdk-17-jre-headless` or point JAVA_HOME at a JDK 17+",
        )
    return candidate


def java_major(version_output: str) -> int | None:
    """17 from 'openjdk version "17.0.15" ...', 8 from 'java version "1.8.0_402"'."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not match:
        return None
    first = int(match.group(1))
    return int(match.group(2) or 0) if first == 1 else first


def classify_maven_failure(output: str, version: str, log_file: Path) -> MavenFailed | MavenCentralUnreachable:
    """Turn Maven's output into the error a person can act on."""
    missing = re.search(r"Could not find artifact (\S+)", output)
    if missing:
        return MavenFailed(
            f"Maven Central has no {missing.group(1)}",
            f"use a Kafka version that exists (kravsak pins {version} in kravsak/settings.py); log: {log_file}",
        )
    if any(sign in output for sign in _NETWORK_SIGNS):
        return MavenCentralUnreachable(
            "Maven could not download Kafka's jars: Maven Central is unreachable",
            "check the network or the proxy/mirror in ~/.m2/settings.xml and run `kravsak up` again, "
            f"or use a running Kafka with KRAVSAK_KAFKA_BOOTSTRAP; log: {log_file}",
        )
    errors = [line for line in output.splitlines() if line.startswith("[ERROR]")]
    reason = errors[0].removeprefix("[ERROR]").strip() if errors else "no [ERROR] line"
    return MavenFailed(f"Maven failed to resolve Kafka's jars: {reason}", f"read {log_file}")


def ensure_jars(root: Path, version: str, step: Step) -> Path:
    """The folder holding Kafka's runtime jars, resolving them with Maven when needed."""
    pom = packaged_file("pom.xml")
    fingerprint = hashlib.sha256(f"{version}\n{pom}".encode()).hexdigest()
    lib = root / "lib" / version
    marker = lib / ".complete"
    if marker.is_file() and marker.read_text().strip() == fingerprint:
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolMissing(
            "Maven (`mvn`) is not installed; kravsak needs it once to download Kafka's jars",
            "`apt-get install maven`, or use a running Kafka with KRAVSAK_KAFKA_BOOTSTRAP",
        )
    work = root / "maven"
    work.mkdir(parents=True, exist_ok=True)
    (work / "pom.xml").write_text(pom)
    staging = root / "lib" / f".{version}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    log_file = work / "maven.log"
    step(f"downloading Apache Kafka {version} jars with Maven (first run only)")
    command = [
        mvn,
        "-B",
        "-Dstyle.color=never",
        "-f",
        str(work / "pom.xml"),
        f"-Dkafka.version={version}",
        COPY_DEPENDENCIES,
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
    ]
    try:
        with log_file.open("w") as out:
            result = subprocess.run(
                command,
                cwd=work,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=MAVEN_TIMEOUT_S,
                check=False,
            )
    except subprocess.TimeoutExpired as exc:
        raise MavenCentralUnreachable(
            f"Maven did not finish downloading Kafka's jars within {MAVEN_TIMEOUT_S // 60} minutes",
            f"check the network and run `kravsak up` again; log: {log_file}",
        ) from exc
    output = log_file.read_text(errors="replace")
    if result.returncode != 0:
        raise classify_maven_failure(output, version, log_file)
    if not list(staging.glob(f"kafka_2.13-{version}.jar")):
        raise MavenFailed(
            f"Maven succeeded but kafka_2.13-{version}.jar is not in {staging}",
            f"read {log_file}; last lines: {tail(log_file, 3)}",
        )
    (staging / ".complete").write_text(fingerprint + "\n")
    shutil.rmtree(lib, ignore_errors=True)
    staging.rename(lib)
    log.info("kafka.jars_resolved", version=version, folder=str(lib), jars=len(list(lib.glob("*.jar"))))
    return lib
