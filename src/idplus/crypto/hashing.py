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


def new_handle(nbytes: int = 32) -> str:
    """A random bearer handle (code, refresh token …); 32 bytes = 256 bits by default."""
    return secrets.token_urlsafe(nbytes)


def hash_handle(key: bytes, handle: str) -> str:
    return hmac.new(key, handle.encode(), hashlib.sha256).hexdigest()
