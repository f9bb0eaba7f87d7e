"""`python -m consumers.projector_main`: one projection runner as a process of its own.

The delivery protocol is the runner's (see ``consumers.projector``): offsets live in PostgreSQL
with the rows, so a process killed at any instant (SIGKILL included) loses nothing and applies
nothing twice; SIGTERM/SIGINT stop it after the batch in hand. The fault tests start it this way.

Environment (each optional, defaults from ``RunnerOptions``):

- ``KRAVSAK_PROJECTOR_TOPIC``: the case-events topic to read;
- ``KRAVSAK_PROJECTOR_GROUP``: the consumer group;
- ``KRAVSAK_PROJECTOR_SCHEMA_SUFFIX``: appended to every projection schema (``kravsak_ledger<suffix>``);
- ``KRAVSAK_PROJECTOR_BATCH``: most records applied in one transaction;
- ``KRAVSAK_PROJECTOR_SESSION_TIMEOUT_MS``: how long the group waits for a silent member before its
  partitions go to the others (Kafka client default 45 s; the broker allows 6 s and up);
- ``KRAVSAK_LOG_LEVEL``: DEBUG, INFO (default), WARNING or ERROR. Logs are JSON lines on stderr.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import replace

from consumers.projector import RunnerOptions, run
from kravsak import logs
from kravsak.errors import KravsakError
from kravsak.settings import load_settings

log = logs.get_logger("kravsak.projector")


def options_from_env(environ: Mapping[str, str] | None = None) -> RunnerOptions:
    """``RunnerOptions`` with the ``KRAVSAK_PROJECTOR_*`` variables that are set."""
    env = os.environ if environ is None else environ
    options = RunnerOptions()
    if env.get("KRAVSAK_PROJECTOR_TOPIC"):
        options = replace(options, topic=env["KRAVSAK_PROJECTOR_TOPIC"])
    if env.get("KRAVSAK_PROJECTOR_GROUP"):
        options = replace(options, group=env["KRAVSAK_PROJECTOR_GROUP"])
    if env.get("KRAVSAK_PROJECTOR_SCHEMA_SUFFIX"):
        options = replace(options, schema_suffix=env["KRAVSAK_PROJECTOR_SCHEMA_SUFFIX"])
    if env.get("KRAVSAK_PROJECTOR_BATCH"):
        options = replace(options, batch_size=_positive(env, "KRAVSAK_PROJECTOR_BATCH", "e.g. 2000"))
    if env.get("KRAVSAK_PROJECTOR_SESSION_TIMEOUT_MS"):
        options = replace(
            options, session_timeout_ms=_positive(env, "KRAVSAK_PROJECTOR_SESSION_TIMEOUT_MS", "e.g. 10000")
        )
    return options


def _positive(env: Mapping[str, str], name: str, example: str) -> int:
    raw = env[name]
    if not raw.isdigit() or int(raw) < 1:
        raise KravsakError(f"{name}={raw!r} is not a positive whole number", f"set {name} to one, {example}")
    return int(raw)


def main() -> int:
    logs.configure("json", level=os.environ.get("KRAVSAK_LOG_LEVEL", "INFO"))
    try:
        settings = load_settings()
        options = options_from_env()
    except KravsakError as exc:
        log.error("projector.failed", error=exc.problem, fix=exc.fix)
        return exc.exit_code
    run(settings, options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
