"""RS256 signing keys: creation, (optionally encrypted) PEM storage form, JWKS and signing.

Keys are identified by their RFC 7638 thumbprint. The `KeyRing` is what a running server
holds: the key that signs now and every key that must still be published.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from idplus.models import SigningKey

ALGORITHM = "RS256"
RSA_KEY_BITS = 2048


class KeyDecryptionError(Exception):
    """A stored private key could not be opened with the configured key-encryption key."""


@dataclass(frozen=True, slots=True)
class NewKeyMaterial:
    kid: str
    private_pem: bytes
    public_jwk: dict[str, str]


def generate_key_material(key_encryption_key: str | None) -> NewKeyMaterial:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    jwk = RSAKey.import_key(private_key)
    kid = jwk.thumbprint()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(key_encryption_key.encode())
        if key_encryption_key
        else serialization.NoEncryption()
    )
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    public = {str(k): str(v) for k, v in jwk.as_dict(private=False).items()}
    public.update({"kid": kid, "use": "sig", "alg": ALGORITHM})
    return NewKeyMaterial(kid=kid, private_pem=pem, public_jwk=public)


def load_private_key(stored: SigningKey, key_encryption_key: str | None) -> RSAKey:
    password = key_encryption_key.encode() if key_encryption_key else None
    try:
        private_key = serialization.load_pem_private_key(stored.private_pem, password=password)
    except (TypeError, ValueError) as exc:
        raise KeyDecryptionError(
            f"signing key {stored.kid} cannot be opened: check IDPLUS_KEY_ENCRYPTION_KEY"
        ) from exc
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise KeyDecryptionError(f"signing key {stored.kid} is not an RSA key")
    return RSAKey.import_key(private_key, {"kid": stored.kid, "use": "sig", "alg": ALGORITHM})


def is_encrypted(stored: SigningKey) -> bool:
    return b"ENCRYPTED" in stored.private_pem.split(b"\n", 1)[0]


class KeyRing:
    """The signing key of the moment plus every key still published in the JWKS."""

    def __init__(self, signing: RSAKey, published: Iterable[Mapping[str, str]]) -> None:
        self._signing = signing
        self._published = [dict(jwk) for jwk in published]
        key_set: Any = {"keys": self._published}
        self._verification = KeySet.import_key_set(key_set)

    @property
    def signing_kid(self) -> str:
        return str(self._signing.kid)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [dict(jwk) for jwk in self._published]}

    @cached_property
    def jwks_json(self) -> bytes:
        """The JWKS serialised once per ring: the endpoint serves these bytes as they are."""
        return json.dumps(self.jwks(), separators=(",", ":")).encode()

    def sign(self, claims: Mapping[str, Any], *, typ: str = "JWT") -> str:
        header = {"alg": ALGORITHM, "kid": self.signing_kid, "typ": typ}
        return jwt.encode(header, dict(claims), self._signing, algorithms=[ALGORITHM])

    def verify(self, token: str) -> jwt.Token:
        """Check the signature against the published keys; claims are the caller's to check."""
        try:
            return jwt.decode(token, self._verification, algorithms=[ALGORITHM])
        except Exception as exc:  # joserfc raises TypeError, KeyError … on odd headers too
            raise InvalidSignature(type(exc).__name__) from exc


class InvalidSignature(Exception):
    """A JWT that is malformed or not signed by a published key."""


def choose_signing_key(keys: Iterable[SigningKey], now: datetime) -> SigningKey | None:
    """The newest published key whose activation time has come.

    A rotated-out key keeps signing until its successor activates; that is what lets the
    successor be published everywhere before the first token carries its kid.
    """
    active = [k for k in published_keys(keys, now) if k.activate_at <= now]
    return max(active, key=lambda k: k.activate_at, default=None)


def published_keys(keys: Iterable[SigningKey], now: datetime) -> list[SigningKey]:
    return [k for k in keys if k.publish_until is None or k.publish_until > now]
