"""Keys for personal data: envelope encryption under the office's master key.

Every debtor gets a random 256-bit *data key*. The data key encrypts that debtor's fields (and the
letters archived for the debtor, and the debtor stream's values); it is stored only *wrapped* by the
office's master key. Destroying the wrapped data key erases the person: every ciphertext made with it
becomes noise, wherever a copy of it lies (database, dumps, Kafka).

The master key never enters the database. ``KeyProvider`` is the seam:

- ``LocalKeyProvider`` (here): the master key is 32 random bytes, base64, from ``KRAVSAK_MASTER_KEY`` or
  the file ``KRAVSAK_MASTER_KEY_FILE`` (``kravsak up`` makes ``<home>/secrets/master.key``, mode 0600,
  for the local stack). Wrapping is AES-256-GCM under a key-encryption key derived from the master key
  with HKDF, the debtor id bound in as associated data, so a wrapped key moved to another debtor's row
  does not open.
- A KMS provider (production) implements the same three members with the KMS's own calls — ``wrap`` =
  Encrypt (or GenerateDataKey), ``unwrap`` = Decrypt, both with the debtor id as encryption context —
  so the master key never leaves the KMS, and every unwrap is in the KMS's audit log. ``key_id`` is the
  KMS key's id. Nothing else in kravsak changes.

The office secret (opaque ids, the register's look-up index) is derived from the master key with its
own HKDF label unless ``KRAVSAK_OFFICE_SECRET`` gives one: a KMS deployment sets it from its secret store.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MASTER_KEY_BYTES = 32
DATA_KEY_BYTES = 32
NONCE_BYTES = 12
_KEK_LABEL = b"kravsak/master/key-encryption-key/v1"
_ID_LABEL = b"kravsak/master/key-id/v1"
_OFFICE_LABEL = b"kravsak/master/office-secret/v1"


class KeyUnusable(ValueError):
    """A key cannot be used: wrong length or format, another master key, or a damaged wrapped key."""


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key encrypted by a master key: which master key (``key_id``) and the ciphertext."""

    key_id: str
    blob: bytes


class KeyProvider(Protocol):
    """Wraps and unwraps debtors' data keys with the office's master key (local file or a KMS)."""

    @property
    def key_id(self) -> str:
        """Id of the master key new data keys are wrapped with (a fingerprint, never the key)."""
        ...

    def wrap(self, data_key: bytes, *, context: str) -> WrappedKey:
        """Encrypt ``data_key`` for the debtor named by ``context``."""
        ...

    def unwrap(self, wrapped: WrappedKey, *, context: str) -> bytes:
        """The data key, or ``KeyUnusable`` when this provider cannot open it."""
        ...


def derive(key: bytes, label: bytes, length: int = 32) -> bytes:
    """A sub-key of ``key`` for one purpose (HKDF-SHA256, no salt: ``key`` is uniformly random)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=label).derive(key)


def new_data_key() -> bytes:
    return os.urandom(DATA_KEY_BYTES)


class LocalKeyProvider:
    """The master key held in this process (from a file or an environment variable)."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != MASTER_KEY_BYTES:
            raise KeyUnusable(f"master key: {len(master_key)} bytes, {MASTER_KEY_BYTES} are required")
        self._kek = AESGCM(derive(master_key, _KEK_LABEL))
        self._key_id = derive(master_key, _ID_LABEL, 8).hex()
        self._office_secret = derive(master_key, _OFFICE_LABEL)

    @property
    def key_id(self) -> str:
        return self._key_id

    def office_secret(self) -> bytes:
        return self._office_secret

    def wrap(self, data_key: bytes, *, context: str) -> WrappedKey:
        nonce = os.urandom(NONCE_BYTES)
        return WrappedKey(self._key_id, nonce + self._kek.encrypt(nonce, data_key, self._aad(context)))

    def unwrap(self, wrapped: WrappedKey, *, context: str) -> bytes:
        if wrapped.key_id != self._key_id:
            raise KeyUnusable(
                f"data key of {context} was wrapped by master key {wrapped.key_id}, this process holds {self._key_id}"
            )
        try:
            return self._kek.decrypt(wrapped.blob[:NONCE_BYTES], wrapped.blob[NONCE_BYTES:], self._aad(context))
        except InvalidTag:
            raise KeyUnusable(f"the wrapped data key of {context} does not open (damaged, or another's)") from None

    def _aad(self, context: str) -> bytes:
        return f"{self._key_id}:{context}".encode()


def parse_master_key(text: str, *, where: str) -> bytes:
    """32 bytes from base64 text; ``where`` names the variable or file in the error."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyUnusable(f"{where}: not base64") from None
    if len(key) != MASTER_KEY_BYTES:
        raise KeyUnusable(f"{where}: {len(key)} bytes, {MASTER_KEY_BYTES} are required")
    return key


def read_master_key_file(path: Path) -> bytes:
    """The key in ``path``; refused when others than the owner may read the file."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyUnusable(f"{path}: mode {stat.S_IMODE(mode):o} lets others read the master key; chmod 600 it")
    return parse_master_key(path.read_text(encoding="ascii"), where=str(path))


def write_master_key_file(path: Path) -> bool:
    """Create ``path`` with a new random master key, mode 0600; False if it exists (never overwritten)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(base64.b64encode(os.urandom(MASTER_KEY_BYTES)).decode() + "\n")
    return True
