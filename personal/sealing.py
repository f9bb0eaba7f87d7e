"""Authenticated encryption of one value under a debtor's data key (AES-256-GCM).

A sealed value is ``01 | nonce (12 bytes) | ciphertext with tag``. The associated data binds it to
its debtor and its purpose (``register``, ``stream``, ``letters``, ``messages``, ``notes``), so a ciphertext copied into
another debtor's row, or from the stream into the register, does not open. Each purpose uses its own
sub-key of the data key (HKDF), so a downstream service given the stream key cannot open the
register's row or the archived letters.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from personal.keys import NONCE_BYTES, derive

VERSION = b"\x01"
PURPOSES = frozenset({"register", "stream", "letters", "messages", "notes"})


class SealBroken(ValueError):
    """A sealed value does not open with this key (another key, another debtor, or damaged)."""


def purpose_key(data_key: bytes, purpose: str) -> bytes:
    """The sub-key of a debtor's data key for one purpose."""
    if purpose not in PURPOSES:
        raise ValueError(f"purpose: {purpose!r} is not one of {sorted(PURPOSES)}")
    return derive(data_key, f"kravsak/debtor/{purpose}/v1".encode())


def seal(key: bytes, plaintext: bytes, *, aad: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, aad.encode())


def open_sealed(key: bytes, sealed: bytes, *, aad: str) -> bytes:
    if sealed[:1] != VERSION or len(sealed) < 1 + NONCE_BYTES + 16:
        raise SealBroken(f"not a sealed value of version {VERSION.hex()}")
    try:
        return AESGCM(key).decrypt(sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :], aad.encode())
    except InvalidTag:
        raise SealBroken(f"the sealed value does not open for {aad}") from None
