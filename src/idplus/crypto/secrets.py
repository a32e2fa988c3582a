"""Secrets idplus must read back (upstream client secrets), sealed at rest.

With a key-encryption key (IDPLUS_KEY_ENCRYPTION_KEY) a secret is stored as a Fernet token
(AES-128-CBC + HMAC-SHA256) under a key derived from the KEK with HKDF-SHA256; without one
(development only) it is stored in plain text, the same rule as the signing keys. The stored
form says which it is, so a database keeps working when a KEK is added later.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from idplus.config import Settings
from idplus.models import UpstreamProvider

SEALED_PREFIX = "fernet:"
PLAIN_PREFIX = "plain:"
# Separates this key from anything else a future version derives from the same KEK.
_HKDF_INFO = b"idplus upstream client secret v1"


class SecretDecryptionError(Exception):
    """A sealed secret could not be opened with the configured key-encryption key."""


def _fernet(key_encryption_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        key_encryption_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def seal_secret(secret: str, key_encryption_key: str | None) -> str:
    """The stored form of `secret`: encrypted when a KEK is configured, plain otherwise."""
    if not key_encryption_key:
        return PLAIN_PREFIX + secret
    return SEALED_PREFIX + _fernet(key_encryption_key).encrypt(secret.encode()).decode("ascii")


def open_secret(stored: str, key_encryption_key: str | None) -> str:
    """The secret a stored form holds; raises SecretDecryptionError with a clear reason."""
    if stored.startswith(PLAIN_PREFIX):
        return stored[len(PLAIN_PREFIX) :]
    if not stored.startswith(SEALED_PREFIX):
        raise SecretDecryptionError("stored secret has an unknown form")
    if not key_encryption_key:
        raise SecretDecryptionError("secret is encrypted but IDPLUS_KEY_ENCRYPTION_KEY is not set")
    try:
        token = stored[len(SEALED_PREFIX) :].encode("ascii")
        return _fernet(key_encryption_key).decrypt(token).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise SecretDecryptionError(
            "secret cannot be opened: check IDPLUS_KEY_ENCRYPTION_KEY"
        ) from exc


def client_secret_of(provider: UpstreamProvider, settings: Settings) -> str | None:
    """The plaintext secret for the upstream's token endpoint (SecretDecryptionError if not)."""
    if provider.client_secret_sealed is None:
        return None
    return open_secret(provider.client_secret_sealed, settings.key_encryption_key_value)


def is_sealed(stored: str) -> bool:
    return stored.startswith(SEALED_PREFIX)
