"""Password hashing, client-secret hashing and HMAC handles for bearer artefacts.

- Passwords are argon2id (argon2-cffi's defaults follow RFC 9106's second recommendation).
- Client secrets are generated with 256 bits of entropy, so a salted SHA-256 is as strong as a
  slow hash against guessing while keeping the token endpoint fast (the choice IdentityServer
  makes); comparisons are constant time.
- Codes, refresh tokens, device codes and opaque tokens are stored as HMAC-SHA256 of the handle
  under a server key, so a database dump holds nothing a client could present.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_password_hasher = PasswordHasher()
_SECRET_SCHEME = "sha256"


def hash_password(password: str) -> str:
    return _password_hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _password_hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class HashingBusy(Exception):
    """Every password-hashing slot is taken: the request is shed, not queued."""


class PasswordHashSlots:
    """A bound on concurrent argon2 work in one process.

    Each hash takes tens of MiB and a core for tens of milliseconds; without a bound, a burst
    of logins (real or made up) takes the memory and the CPU every other request needs.
    Waiting for a slot would hold a worker thread, so a full house answers at once instead.
    """

    def __init__(self, size: int) -> None:
        self._slots = threading.BoundedSemaphore(size)

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(blocking=False):
            raise HashingBusy
        try:
            yield
        finally:
            self._slots.release()


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_client_secret(secret: str) -> str:
    salt = secrets.token_hex(16)
    digest = hashlib.sha256((salt + secret).encode()).hexdigest()
    return f"{_SECRET_SCHEME}${salt}${digest}"


def verify_client_secret(secret_hash: str, presented: str) -> bool:
    scheme, _, rest = secret_hash.partition("$")
    salt, _, expected = rest.partition("$")
    if scheme != _SECRET_SCHEME or not expected:
        return False
    digest = hashlib.sha256((salt + presented).encode()).hexdigest()
    return hmac.compare_digest(digest, expected)


def hash_handle(key: bytes, handle: str) -> str:
    return hmac.new(key, handle.encode(), hashlib.sha256).hexdigest()
