"""Java programs of the local stack (Kafka, the OpenID provider): a `java` to run them and their jars,
resolved by Maven from Maven Central once and then reused.

Each program ships a `pom.xml` beside its module that names what it runs. Maven copies the runtime
dependencies into `<root>/lib/<version>/`; a `.complete` file there records a hash of the POM and
version, so a later start uses the folder without running Maven, and a changed POM or version
resolves again. Maven's own cache (~/.m2) makes a re-resolve after `rm -rf .kravsak` work offline.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kravsak.errors import MavenCentralUnreachable, MavenFailed, ToolMissing
from kravsak.logs import get_logger
from kravsak.stack.base import Step
from kravsak.stack.procs import tail

log = get_logger(__name__)

JAVA_MIN_MAJOR = 17  # Kafka 4 brokers and mock-oauth2-server 2.x need Java 17+
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


@dataclass(frozen=True)
class JavaProgram:
    """What Maven resolves for one server of the stack, and how a person works around it."""

    what: str  # "Kafka", "the OpenID provider"
    pom: str  # the POM's text
    version_property: str  # -D<property>=<version> passed to Maven
    main_jar: str  # file name pattern that proves the resolution, e.g. "kafka_2.13-{version}.jar"
    pinned_in: str  # where kravsak pins the version, for the error message
    external_var: str  # the variable that names a server someone else runs


def find_java(what: str = "the local Kafka", external_var: str = "KRAVSAK_KAFKA_BOOTSTRAP") -> str:
    """The `java` to run a server with: $JAVA_HOME/bin/java, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not candidate or not Path(candidate).is_file():
        raise ToolMissing(
            f"Java is not installed (no `java` on PATH or in $JAVA_HOME); {what} needs Java {JAVA_MIN_MAJOR}+",
            f"`apt-get install openjdk-17-jre-headless`, or use a running server with {external_var}",
        )
    result = subprocess.run([candidate, "-version"], capture_output=True, text=True, timeout=30)
    major = java_major(result.stderr + result.stdout)
    if major is None or major < JAVA_MIN_MAJOR:
        raise ToolMissing(
            f"{candidate} is Java {major or '?'}; {what} needs Java {JAVA_MIN_MAJOR} or newer",
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


def classify_maven_failure(
    output: str, program: JavaProgram, version: str, log_file: Path
) -> MavenFailed | MavenCentralUnreachable:
    """Turn Maven's output into the error a person can act on."""
    missing = re.search(r"Could not find artifact (\S+)", output)
    if missing:
        return MavenFailed(
            f"Maven Central has no {missing.group(1)}",
            f"use a version that exists (kravsak pins {version} in {program.pinned_in}); log: {log_file}",
        )
    if any(sign in output for sign in _NETWORK_SIGNS):
        return MavenCentralUnreachable(
            f"Maven could not download {program.what}'s jars: Maven Central is unreachable",
            "check the network or the proxy/mirror in ~/.m2/settings.xml and run `kravsak up` again, "
            f"or use a running server with {program.external_var}; log: {log_file}",
        )
    errors = [line for line in output.splitlines() if line.startswith("[ERROR]")]
    reason = errors[0].removeprefix("[ERROR]").strip() if errors else "no [ERROR] line"
    return MavenFailed(f"Maven failed to resolve {program.what}'s jars: {reason}", f"read {log_file}")


def ensure_jars(root: Path, program: JavaProgram, version: str, step: Step) -> Path:
    """The folder holding the program's runtime jars, resolving them with Maven when needed."""
    fingerprint = hashlib.sha256(f"{version}\n{program.pom}".encode()).hexdigest()
    lib = root / "lib" / version
    marker = lib / ".complete"
    if marker.is_file() and marker.read_text().strip() == fingerprint:
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolMissing(
            f"Maven (`mvn`) is not installed; kravsak needs it once to download {program.what}'s jars",
            f"`apt-get install maven`, or use a running server with {program.external_var}",
        )
    work = root / "maven"
    work.mkdir(parents=True, exist_ok=True)
    (work / "pom.xml").write_text(program.pom)
    staging = root / "lib" / f".{version}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    log_file = work / "maven.log"
    step(f"downloading {program.what} {version} jars with Maven (first run only)")
    command = [
        mvn,
        "-B",
        "-Dstyle.color=never",
        "-f",
        str(work / "pom.xml"),
        f"-D{program.version_property}={version}",
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
            f"Maven did not finish downloading {program.what}'s jars within {MAVEN_TIMEOUT_S // 60} minutes",
            f"check the network and run `kravsak up` again; log: {log_file}",
        ) from exc
    output = log_file.read_text(errors="replace")
    if result.returncode != 0:
        raise classify_maven_failure(output, program, version, log_file)
    main_jar = program.main_jar.format(version=version)
    if not (staging / main_jar).is_file():
        raise MavenFailed(
            f"Maven succeeded but {main_jar} is not in {staging}",
            f"read {log_file}; last lines: {tail(log_file, 3)}",
        )
    (staging / ".complete").write_text(fingerprint + "\n")
    shutil.rmtree(lib, ignore_errors=True)
    staging.rename(lib)
    log.info("maven.jars_resolved", program=program.what, version=version, folder=str(lib))
    return lib
