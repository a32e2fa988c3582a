"""RS256 key material, JWKS form, encrypted storage and the key ring's sign/verify."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idplus.crypto.keys import (
    InvalidSignature,
    KeyDecryptionError,
    KeyRing,
    choose_signing_key,
    generate_key_material,
    is_encrypted,
    load_private_key,
    published_keys,
)
from idplus.models import SigningKey

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _stored(kek: str | None = None, **overrides: object) -> SigningKey:
    material = generate_key_material(kek)
    fields: dict[str, object] = {
        "kid": material.kid,
        "alg": "RS256",
        "private_pem": material.private_pem,
        "public_jwk": material.public_jwk,
        "created_at": NOW,
        "activate_at": NOW,
    }
    fields.update(overrides)
    return SigningKey(**fields)  # type: ignore[arg-type]


def test_public_jwk_is_an_rsa_signing_key_without_private_parts() -> None:
    jwk = generate_key_material(None).public_jwk
    assert jwk["kty"] == "RSA"
    assert jwk["use"] == "sig"
    assert jwk["alg"] == "RS256"
    assert jwk["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)


def test_private_key_is_encrypted_with_the_key_encryption_key() -> None:
    stored = _stored("kek-1")
    assert is_encrypted(stored)
    assert load_private_key(stored, "kek-1").kid == stored.kid
    with pytest.raises(KeyDecryptionError):
        load_private_key(stored, "wrong")
    assert not is_encrypted(_stored(None))


def test_signed_token_verifies_against_the_published_jwks() -> None:
    stored = _stored()
    ring = KeyRing(load_private_key(stored, None), [stored.public_jwk])
    token = ring.sign({"sub": "alice"}, typ="at+jwt")
    decoded = jwt.decode(token, KeySet.import_key_set(ring.jwks()))
    assert decoded.header == {"alg": "RS256", "kid": stored.kid, "typ": "at+jwt"}
    assert decoded.claims == {"sub": "alice"}
    assert ring.verify(token).claims["sub"] == "alice"


def test_verify_refuses_tokens_of_unpublished_keys() -> None:
    ours, theirs = _stored(), _stored()
    ring = KeyRing(load_private_key(ours, None), [ours.public_jwk])
    foreign = KeyRing(load_private_key(theirs, None), [theirs.public_jwk]).sign({"sub": "x"})
    with pytest.raises(InvalidSignature):
        ring.verify(foreign)
    with pytest.raises(InvalidSignature):
        ring.verify("not.a.jwt")


def test_newest_activated_key_signs_and_retired_keys_stay_published() -> None:
    old = _stored(publish_until=NOW + timedelta(hours=2))
    new = _stored(activate_at=NOW + timedelta(seconds=20))
    assert choose_signing_key([old, new], NOW) == old
    assert choose_signing_key([old, new], NOW + timedelta(seconds=20)) == new
    assert published_keys([old, new], NOW + timedelta(hours=1)) == [old, new]
    assert published_keys([old, new], NOW + timedelta(hours=2)) == [new]


@pytest.mark.parametrize(
    "header",
    [b'{"alg":"RS256","crit":1}', b'{"alg":"RS256","kid":{"a":1}}', b'["not", "an", "object"]'],
)
def test_verify_refuses_odd_headers_as_an_invalid_signature(header: bytes) -> None:
    """Never an unexpected exception (a 500) for what anyone can send as a token."""
    stored = _stored()
    ring = KeyRing(load_private_key(stored, None), [stored.public_jwk])
    encoded = base64.urlsafe_b64encode(header).rstrip(b"=").decode()
    with pytest.raises(InvalidSignature):
        ring.verify(f"{encoded}.eyJzdWIiOiJ4In0.c2ln")
