"""The local stack's generated passwords: one JSON file, mode 0600, in a 0700 folder under the home.

`kravsak up` makes every missing password (``ensure``) before it starts a server; whoever connects
to the local stack reads its own (``password``). Nothing here is used for servers named by
``KRAVSAK_PG_DSN`` / ``KRAVSAK_KAFKA_BOOTSTRAP``: their credentials come with those settings.

Keys: ``pg:<role>`` (the PostgreSQL superuser ``postgres``, the owner ``kravsak`` and one role per
service) and ``kafka:<user>`` (one SCRAM user per service, ``admin``, and the controller's own).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from kravsak.errors import SettingsError


def secrets_file(home: Path) -> Path:
    return home / "secrets" / "stack.json"


def read(home: Path) -> dict[str, str]:
    path = secrets_file(home)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SettingsError(
            f"cannot read the local stack's passwords in {path}: {exc}",
            "`kravsak down`, remove the file and `kravsak reset --yes` (the servers keep the old passwords)",
        ) from exc
    return {str(k): str(v) for k, v in data.items()}


def ensure(home: Path, keys: Iterable[str]) -> dict[str, str]:
    """Every key in ``keys`` with a password, new ones random (never overwritten); the whole file."""
    known = read(home)
    missing = [key for key in keys if key not in known]
    if missing:
        known.update({key: secrets.token_urlsafe(24) for key in missing})
        path = secrets_file(home)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.parent.chmod(0o700)
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(known, out, indent=1, sort_keys=True)
        temporary.replace(path)
    return known


def password(home: Path, key: str) -> str:
    """The password under ``key``; a SettingsError saying how to make it when it is missing."""
    value = read(home).get(key)
    if value is None:
        raise SettingsError(
            f"the local stack has no password for {key} in {secrets_file(home)}",
            "run `kravsak up` (it makes the local stack's passwords), or point kravsak at your servers "
            "with KRAVSAK_PG_DSN / KRAVSAK_KAFKA_BOOTSTRAP",
        )
    return value
