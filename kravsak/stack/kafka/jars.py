"""Java for the broker and its jars, resolved by Maven (kravsak.stack.maven) from Maven Central once.

`pom.xml` beside this module names Kafka plus the SLF4J binding its POMs lack. Maven copies the
runtime dependencies into `<home>/kafka/lib/<version>/`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from kravsak.errors import MavenCentralUnreachable, MavenFailed
from kravsak.stack import maven
from kravsak.stack.base import Step
from kravsak.stack.maven import java_major

__all__ = ["classify_maven_failure", "ensure_jars", "find_java", "java_major", "packaged_file"]


def packaged_file(name: str) -> str:
    """The text of a file shipped beside this module (pom.xml, log4j2.xml)."""
    return resources.files("kravsak.stack.kafka").joinpath(name).read_text()


def kafka_program() -> maven.JavaProgram:
    return maven.JavaProgram(
        what="Kafka",
        pom=packaged_file("pom.xml"),
        version_property="kafka.version",
        main_jar="kafka_2.13-{version}.jar",
        pinned_in="kravsak/settings.py",
        external_var="KRAVSAK_KAFKA_BOOTSTRAP",
    )


def find_java() -> str:
    """The `java` to run the broker with: $JAVA_HOME/bin/java, else the one on PATH."""
    return maven.find_java("the local Kafka", "KRAVSAK_KAFKA_BOOTSTRAP")


def classify_maven_failure(output: str, version: str, log_file: Path) -> MavenFailed | MavenCentralUnreachable:
    """Turn Maven's output into the error a person can act on."""
    return maven.classify_maven_failure(output, kafka_program(), version, log_file)


def ensure_jars(root: Path, version: str, step: Step) -> Path:
    """The folder holding Kafka's runtime jars, resolving them with Maven when needed."""
    return maven.ensure_jars(root, kafka_program(), version, step)
