"""Clients' public keys (a JWKS) for private_key_jwt client authentication (RFC 7523).

A registered or fetched JWKS must hold public signing keys only: a private member would mean
the client handed us the key it signs with, and a symmetric key would let anyone who saw the
JWKS sign. Only the algorithms below are accepted, each tied to its key type so an assertion
cannot pick an algorithm the key was not made for (HS256 keyed with an RSA modulus, `none` …).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey

# RFC 7518 key type each accepted algorithm needs; nothing else is ever verified.
KEY_TYPE_OF_ALGORITHM = {"PS256": "RSA", "ES256": "EC", "RS256": "RSA"}
ASSERTION_ALGORITHMS = tuple(KEY_TYPE_OF_ALGORITHM)
MAX_KEYS = 20
MIN_RSA_BITS = 2048
# JWK members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# How many imported key sets choose_key keeps (about one per active private_key_jwt client).
IMPORTED_KEY_SETS = 512

ClientKey = RSAKey | ECKey


class InvalidClientKeys(ValueError):
    """A JWKS that cannot be used for client authentication (the message says why)."""


def parse_client_jwks(document: object) -> dict[str, Any]:
    """The JWKS as stored (each key's public members only); InvalidClientKeys otherwise."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise InvalidClientKeys('a JWKS is a JSON object with a "keys" array')
    members = document["keys"]
    if not 0 < len(members) <= MAX_KEYS:
        raise InvalidClientKeys(f"a JWKS must hold 1-{MAX_KEYS} keys")
    return {"keys": [_public_key(member) for member in members]}


def _public_key(member: object) -> dict[str, Any]:
    if not isinstance(member, Mapping):
        raise InvalidClientKeys("each key of a JWKS is a JSON object")
    private = sorted(PRIVATE_MEMBERS & set(member))
    if private:
        raise InvalidClientKeys(
            f"the JWKS holds private or symmetric key material ({', '.join(private)}): "
            "register public keys only"
        )
    if member.get("kty") not in ("RSA", "EC"):
        raise InvalidClientKeys("only RSA and EC keys can sign client assertions")
    if member.get("use", "sig") != "sig":
        raise InvalidClientKeys('a key with "use" other than "sig" cannot sign assertions')
    if member.get("kty") == "RSA" and _modulus_bits(member.get("n")) < MIN_RSA_BITS:
        # Checked before import: joserfc only warns about short keys.
        raise InvalidClientKeys(f"RSA keys must have at least {MIN_RSA_BITS} bits")
    try:
        key_set = KeySet.import_key_set({"keys": [dict(member)]})
    except (JoseError, ValueError, TypeError) as error:
        raise InvalidClientKeys(f"a key of the JWKS cannot be read ({error})") from None
    key = key_set.keys[0]
    if isinstance(key, ECKey) and key.curve_name != "P-256":
        raise InvalidClientKeys("EC keys must be on curve P-256 (ES256)")
    return dict(key.as_dict(private=False))


def _modulus_bits(n: object) -> int:
    if not isinstance(n, str):
        return 0
    try:
        modulus = base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))
    except (ValueError, TypeError):
        return 0
    return int.from_bytes(modulus, "big").bit_length()


def choose_key(jwks: Mapping[str, Any], algorithm: str, kid: str | None) -> ClientKey | None:
    """The key an assertion signed with `algorithm` names: by `kid`, or without one the only
    key of the algorithm's type. None when no key (or more than one) fits."""
    key_type = KEY_TYPE_OF_ALGORITHM.get(algorithm)
    if key_type is None:
        return None
    fitting = [
        key
        for key in _IMPORTED.keys_of(jwks)
        if key.key_type == key_type and (kid is None or key.kid == kid)
    ]
    return fitting[0] if len(fitting) == 1 else None


class _ImportedKeySets:
    """Each key set imported once, by its content: a --jwks client is read afresh from the
    store per request, and importing 20 large RSA keys costs milliseconds, while hashing the
    document costs microseconds. A rotated set has other content, so it is imported anew."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._sets: OrderedDict[bytes, tuple[ClientKey, ...]] = OrderedDict()

    def keys_of(self, jwks: Mapping[str, Any]) -> tuple[ClientKey, ...]:
        try:
            canonical = json.dumps(jwks, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError, RecursionError):
            return ()
        digest = hashlib.sha256(canonical.encode()).digest()
        with self._lock:
            keys = self._sets.get(digest)
            if keys is not None:
                self._sets.move_to_end(digest)
                return keys
        keys = _import_keys(jwks)
        with self._lock:
            self._sets[digest] = keys
            while len(self._sets) > self._size:
                self._sets.popitem(last=False)
        return keys


def _import_keys(jwks: Mapping[str, Any]) -> tuple[ClientKey, ...]:
    try:
        keys = KeySet.import_key_set(dict(jwks)).keys  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError):
        return ()
    return tuple(key for key in keys if isinstance(key, RSAKey | ECKey))


_IMPORTED = _ImportedKeySets(IMPORTED_KEY_SETS)


def has_kid(jwks: Mapping[str, Any], kid: str) -> bool:
    keys = jwks.get("keys")
    return isinstance(keys, list) and any(
        isinstance(k, Mapping) and k.get("kid") == kid for k in keys
    )
