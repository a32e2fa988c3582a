"""Token-signing keys (RS256, PS256, ES256): creation, (optionally encrypted) PEM storage form,
JWKS and signing.

Keys are identified by their RFC 7638 thumbprint. Each algorithm has keys of its own (a PS256
key never signs RS256), so a JWK's `alg` says exactly how tokens under its kid are signed. The
`KeyRing` is what a running server holds: the key that signs now for each algorithm and every
key that must still be published.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache, partial
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwt
from joserfc.jwk import ECKey, GuestProtocol, RSAKey

from idplus.models import DEFAULT_SIGNING_ALGORITHM, SIGNING_ALGORITHMS, SigningKey

RSA_KEY_BITS = 2048
# RFC 7518 §3.1: the key type each signing algorithm needs.
KEY_TYPE_OF_ALGORITHM = {"RS256": "RSA", "PS256": "RSA", "ES256": "EC"}

SigningJwk = RSAKey | ECKey
_PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class KeyDecryptionError(Exception):
    """A stored private key cannot be used: the configured key-encryption key does not open
    it, or it is not a key of its stored algorithm."""


class NoSigningKey(LookupError):
    """The key ring has no key that signs with the requested algorithm."""


@dataclass(frozen=True, slots=True)
class NewKeyMaterial:
    kid: str
    alg: str
    private_pem: bytes
    public_jwk: dict[str, str]


def generate_key_material(alg: str, key_encryption_key: str | None) -> NewKeyMaterial:
    """A fresh key for `alg`: RSA 2048 for RS256 and PS256, P-256 for ES256."""
    private_key = _generate_private_key(alg)
    jwk = _import_private_key(private_key)
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
    public.update({"kid": kid, "use": "sig", "alg": alg})
    return NewKeyMaterial(kid=kid, alg=alg, private_pem=pem, public_jwk=public)


def _generate_private_key(alg: str) -> _PrivateKey:
    key_type = KEY_TYPE_OF_ALGORITHM.get(alg)
    if key_type == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    if key_type == "EC":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"no signing keys for algorithm {alg!r}")


def _import_private_key(private_key: _PrivateKey, parameters: Any = None) -> SigningJwk:
    if isinstance(private_key, rsa.RSAPrivateKey):
        return RSAKey.import_key(private_key, parameters)
    return ECKey.import_key(private_key, parameters)


def load_private_key(stored: SigningKey, key_encryption_key: str | None) -> SigningJwk:
    password = key_encryption_key.encode() if key_encryption_key else None
    try:
        private_key = serialization.load_pem_private_key(stored.private_pem, password=password)
    except (TypeError, ValueError) as exc:
        raise KeyDecryptionError(
            f"signing key {stored.kid} cannot be opened: check IDPLUS_KEY_ENCRYPTION_KEY"
        ) from exc
    if not _fits(private_key, stored.alg):
        # A key signing under another algorithm than its JWK announces would make every
        # relying party refuse its tokens (or, worse, accept them under the wrong rules).
        raise KeyDecryptionError(f"signing key {stored.kid} is not a key for {stored.alg}")
    assert isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    parameters = {"kid": stored.kid, "use": "sig", "alg": stored.alg}
    return _import_private_key(private_key, parameters)


def _fits(private_key: object, alg: str) -> bool:
    key_type = KEY_TYPE_OF_ALGORITHM.get(alg)
    if key_type == "RSA":
        return isinstance(private_key, rsa.RSAPrivateKey)
    return (
        key_type == "EC"
        and isinstance(private_key, ec.EllipticCurvePrivateKey)
        and isinstance(private_key.curve, ec.SECP256R1)
    )


def is_encrypted(stored: SigningKey) -> bool:
    return b"ENCRYPTED" in stored.private_pem.split(b"\n", 1)[0]


# About 10 MB at most for tokens of typical size; longer ones are checked, not remembered.
VERIFIED_TOKENS_REMEMBERED = 4096
MAX_REMEMBERED_TOKEN_LENGTH = 2048


class KeyRing:
    """The signing key of the moment for each algorithm plus every key still published."""

    def __init__(
        self, signing: Iterable[SigningJwk], published: Iterable[Mapping[str, str]]
    ) -> None:
        self._signing = {str(key.alg): key for key in signing}
        self._published = [dict(jwk) for jwk in published]
        # Imported once per ring: verify runs on every userinfo and introspection request.
        self._verifying = _verification_keys(self._published)
        # A token is presented many times (a resource server introspects it per call) and
        # whether this ring's keys signed it never changes: its check is remembered, bounded.
        # Only the signature: expiry, revocation and the session are checked every time.
        # Over the keys alone, not the ring: no reference cycle keeps a replaced ring alive.
        self._verify = partial(_verify, self._verifying)
        self._verified = lru_cache(maxsize=VERIFIED_TOKENS_REMEMBERED)(self._verify)

    @property
    def signing_kid(self) -> str:
        """The kid of the default algorithm's (RS256) signing key."""
        return self.signing_kid_for(DEFAULT_SIGNING_ALGORITHM)

    def signing_kid_for(self, alg: str) -> str:
        return str(self._signing_key(alg).kid)

    @property
    def signing_keys(self) -> tuple[SigningJwk, ...]:
        return tuple(self._signing.values())

    def with_published(self, published: Iterable[Mapping[str, str]]) -> KeyRing:
        """The same signing keys, verifying against `published` instead."""
        return KeyRing(self.signing_keys, published)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [dict(jwk) for jwk in self._published]}

    @cached_property
    def jwks_json(self) -> bytes:
        """The JWKS serialised once per ring: the endpoint serves these bytes as they are."""
        return json.dumps(self.jwks(), separators=(",", ":")).encode()

    def sign(
        self, claims: Mapping[str, Any], *, typ: str = "JWT", alg: str = DEFAULT_SIGNING_ALGORITHM
    ) -> str:
        key = self._signing_key(alg)
        header = {"alg": alg, "kid": str(key.kid), "typ": typ}
        return jwt.encode(header, dict(claims), key, algorithms=[alg])

    def _signing_key(self, alg: str) -> SigningJwk:
        key = self._signing.get(alg)
        if key is None:
            raise NoSigningKey(f"the key ring has no {alg} signing key")
        return key

    def verify(self, token: str) -> jwt.Token:
        """Check the signature against the published keys; claims are the caller's to check
        (and not to change: the answer is shared with the next caller of the same token).

        The header's `kid` picks the key and its `alg` must be that key's own: a token cannot
        choose how it is checked (no PS256 on an RS256 key, no HS256 keyed with a public key,
        no `none`). A refusal is not remembered."""
        if len(token) > MAX_REMEMBERED_TOKEN_LENGTH:
            return self._verify(token)
        return self._verified(token)

    def has_keys(
        self, signing: Iterable[SigningJwk], published: Iterable[Mapping[str, str]]
    ) -> bool:
        """Whether a ring of these keys would be this one (a reload that found no change
        keeps the ring, and with it the tokens it remembers)."""
        signing_kids = {str(key.alg): key.kid for key in signing}
        return (
            signing_kids == {alg: key.kid for alg, key in self._signing.items()}
            and [dict(jwk) for jwk in published] == self._published
        )


def _verify(verifying: Mapping[str, tuple[str, SigningJwk]], token: str) -> jwt.Token:
    def key_for(guest: GuestProtocol) -> SigningJwk:
        header = guest.headers()
        kid, alg = header.get("kid"), header.get("alg")
        found = verifying.get(kid) if isinstance(kid, str) else None
        if found is None or found[0] != alg:
            raise InvalidSignature("no published key for this kid and alg")
        return found[1]

    try:
        return jwt.decode(token, key_for, algorithms=SIGNING_ALGORITHMS)
    except Exception as exc:  # joserfc raises TypeError, KeyError … on odd headers too
        raise InvalidSignature(type(exc).__name__) from exc


def _verification_keys(published: Iterable[Mapping[str, str]]) -> dict[str, tuple[str, SigningJwk]]:
    """kid → (the key's own alg, the imported public key), for the algorithms we sign with."""
    keys: dict[str, tuple[str, SigningJwk]] = {}
    for jwk in published:
        kid, alg = jwk.get("kid"), jwk.get("alg", "")
        if (
            not kid
            or alg not in KEY_TYPE_OF_ALGORITHM
            or jwk.get("kty") != KEY_TYPE_OF_ALGORITHM[alg]
        ):
            continue
        data: Any = dict(jwk)
        is_ec = KEY_TYPE_OF_ALGORITHM[alg] == "EC"
        keys[kid] = (alg, ECKey.import_key(data) if is_ec else RSAKey.import_key(data))
    return keys


class InvalidSignature(Exception):
    """A JWT that is malformed or not signed by a published key."""


def choose_signing_key(
    keys: Iterable[SigningKey], now: datetime, alg: str = DEFAULT_SIGNING_ALGORITHM
) -> SigningKey | None:
    """The newest published key of `alg` whose activation time has come.

    A rotated-out key keeps signing until its successor activates; that is what lets the
    successor be published everywhere before the first token carries its kid.
    """
    active = [k for k in published_keys(keys, now) if k.alg == alg and k.activate_at <= now]
    return max(active, key=lambda k: k.activate_at, default=None)


def choose_signing_keys(keys: Iterable[SigningKey], now: datetime) -> dict[str, SigningKey]:
    """The key that signs now for each algorithm that has one."""
    listed = list(keys)
    chosen = {alg: choose_signing_key(listed, now, alg) for alg in SIGNING_ALGORITHMS}
    return {alg: key for alg, key in chosen.items() if key is not None}


def published_keys(keys: Iterable[SigningKey], now: datetime) -> list[SigningKey]:
    return [k for k in keys if k.publish_until is None or k.publish_until > now]
