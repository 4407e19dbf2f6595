"""Encryption of personal fields at rest, and keyed hashes to find them without decrypting.

Values are sealed with AES-256-GCM under a key derived (HKDF-SHA256) from the deployment's
data key; the stored form is ``v1.<base64 of nonce + ciphertext>``. Equal values get different
ciphertexts, so lookups use :meth:`FieldCipher.digest`: an HMAC-SHA256 under a second derived key,
equal for equal (normalised) values and useless without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_PREFIX = "v1."


class DecryptionFailed(Exception):
    """A stored value could not be opened: wrong data key or a damaged value."""


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


def master_key(data_key: str | None, secret_key: str) -> bytes:
    """The master key: ``data_key`` (32 bytes, urlsafe base64) or one derived from the secret."""
    if data_key:
        raw = base64.urlsafe_b64decode(data_key + "=" * (-len(data_key) % 4))
        if len(raw) != 32:
            raise ValueError("MEDCIRCLE_DATA_KEY must be 32 bytes in urlsafe base64")
        return raw
    return hashlib.sha256(b"medcircle data key|" + secret_key.encode()).digest()


class FieldCipher:
    """Seals, opens and digests personal fields with one master key."""

    def __init__(self, master: bytes) -> None:
        self._aead = AESGCM(_derive(master, b"medcircle field encryption v1"))
        self._mac_key = _derive(master, b"medcircle field lookup v1")

    def seal(self, value: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, value.encode(), None)
        return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(_PREFIX):
            raise DecryptionFailed("unknown format")
        try:
            raw = base64.urlsafe_b64decode(stored[len(_PREFIX) :])
            return self._aead.decrypt(raw[:12], raw[12:], None).decode()
        except (InvalidTag, ValueError) as exc:
            raise DecryptionFailed("the value could not be opened") from exc

    def digest(self, value: str, *, kind: str = "") -> str:
        """A keyed hash of ``value`` (hex, 64 characters); ``kind`` separates field families."""
        msg = kind.encode() + b"|" + value.encode()
        return hmac.new(self._mac_key, msg, hashlib.sha256).hexdigest()


def new_token(nbytes: int = 32) -> str:
    """A random token for links (urlsafe, no padding)."""
    return base64.urlsafe_b64encode(os.urandom(nbytes)).decode().rstrip("=")


def token_digest(token: str) -> str:
    """The stored form of a link token: its SHA-256 (the token itself is never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


@lru_cache(maxsize=8)
def _cipher(master: bytes) -> FieldCipher:
    return FieldCipher(master)


def cipher_for(data_key: str | None, secret_key: str) -> FieldCipher:
    """The (cached) cipher of a deployment: ``cipher_for(s.data_key, s.secret_key)``."""
    return _cipher(master_key(data_key, secret_key))
