"""Problems a person can fix, each with the fix: the local stack's and the settings' own kinds.

The family is ``domain.errors.ServiceError`` (inner packages raise it too); ``KravsakError`` is the
same class under the name the composition root has always used. The CLI prints such an error as one
red line, `problem — fix: fix`, and exits with its code (2). Anything else that escapes is a bug and
keeps its traceback.
"""

from __future__ import annotations

from datetime import date

from domain.errors import CommandRefused, ServiceError
from domain.inputs import parse_day

KravsakError = ServiceError


def option_day(option: str, raw: str | None) -> date:
    """A command-line option's day: strictly ISO (``domain.inputs.parse_day``); today when not given."""
    if raw is None:
        return date.today()
    try:
        return parse_day(option, raw)
    except CommandRefused as refused:
        raise KravsakError(refused.message, "give a date such as 2025-04-11") from None


class SettingsError(KravsakError):
    """An environment variable holds a value kravsak cannot use."""


class PortInUse(KravsakError):
    """A port kravsak would listen on is held by a process that is not this checkout's server."""


class ToolMissing(KravsakError):
    """A program the local stack needs (java, mvn, the PostgreSQL binaries) is absent or too old."""


class MavenCentralUnreachable(KravsakError):
    """Maven could not download Kafka's jars."""


class MavenFailed(KravsakError):
    """Maven ran but did not produce Kafka's jars, for a reason other than the network."""


class DataFromOtherVersion(KravsakError):
    """A data folder was written by another PostgreSQL or Kafka version, or by something else."""


class PathNotReachable(KravsakError):
    """The `postgres` OS user cannot reach the project's data folder."""


class ServerFailedToStart(KravsakError):
    """A server kravsak started exited or did not answer in time."""


class ServerUnreachable(KravsakError):
    """A server that should be running (external, or started earlier) does not answer."""
