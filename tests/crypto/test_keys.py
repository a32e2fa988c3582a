"""Signing keys (RS256, PS256, ES256): key material, JWKS form, encrypted storage and the key
ring's sign/verify, including what a forged header must not get past."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import weakref
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from idplus.crypto.keys import (
    InvalidSignature,
    KeyDecryptionError,
    KeyRing,
    NoSigningKey,
    choose_signing_key,
    choose_signing_keys,
    generate_key_material,
    is_encrypted,
    load_private_key,
    published_keys,
)
from idplus.models import SIGNING_ALGORITHMS, SigningKey

NOW = datetime(2026, 1, 1, tzinfo=UTC)
KEY_TYPES = {"RS256": "RSA", "PS256": "RSA", "ES256": "EC"}


def _stored(alg: str = "RS256", kek: str | None = None, **overrides: object) -> SigningKey:
    material = generate_key_material(alg, kek)
    fields: dict[str, object] = {
        "kid": material.kid,
        "alg": alg,
        "private_pem": material.private_pem,
        "public_jwk": material.public_jwk,
        "created_at": NOW,
        "activate_at": NOW,
    }
    fields.update(overrides)
    return SigningKey(**fields)  # type: ignore[arg-type]


def _ring(*stored: SigningKey) -> KeyRing:
    return KeyRing([load_private_key(s, None) for s in stored], [s.public_jwk for s in stored])


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    """One key per algorithm, made once for this module (RSA generation is slow)."""
    return {alg: _stored(alg) for alg in SIGNING_ALGORITHMS}


@pytest.fixture(scope="module")
def ring(keys: dict[str, SigningKey]) -> KeyRing:
    return _ring(*keys.values())


def _published(ring: KeyRing) -> KeySet:
    jwks: Any = ring.jwks()
    return KeySet.import_key_set(jwks)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: object) -> str:
    return _b64(json.dumps(value).encode())


@pytest.mark.parametrize("alg", SIGNING_ALGORITHMS)
def test_public_jwk_is_a_signing_key_of_its_algorithm_without_private_parts(
    keys: dict[str, SigningKey], alg: str
) -> None:
    jwk = keys[alg].public_jwk
    assert (jwk["kty"], jwk["use"], jwk["alg"]) == (KEY_TYPES[alg], "sig", alg)
    assert jwk["kid"] == keys[alg].kid
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)
    if alg == "ES256":
        assert jwk["crv"] == "P-256"
    else:
        modulus = base64.urlsafe_b64decode(jwk["n"] + "=" * (-len(jwk["n"]) % 4))
        assert int.from_bytes(modulus, "big").bit_length() == 2048


def test_rs256_and_ps256_have_keys_of_their_own(keys: dict[str, SigningKey]) -> None:
    """A modulus shared between RS256 and PS256 would tie the two algorithms' life cycles."""
    assert keys["RS256"].public_jwk["n"] != keys["PS256"].public_jwk["n"]


@pytest.mark.parametrize("alg", SIGNING_ALGORITHMS)
def test_private_key_is_encrypted_with_the_key_encryption_key(alg: str) -> None:
    stored = _stored(alg, "kek-1")
    assert is_encrypted(stored)
    assert load_private_key(stored, "kek-1").kid == stored.kid
    with pytest.raises(KeyDecryptionError):
        load_private_key(stored, "wrong")
    assert not is_encrypted(_stored(alg, None))


@pytest.mark.parametrize(
    ("made_for", "stored_as"), [("ES256", "RS256"), ("ES256", "PS256"), ("RS256", "ES256")]
)
def test_a_key_whose_type_does_not_fit_its_stored_algorithm_is_refused(
    keys: dict[str, SigningKey], made_for: str, stored_as: str
) -> None:
    stored = replace(keys[made_for], alg=stored_as)
    with pytest.raises(KeyDecryptionError, match=stored_as):
        load_private_key(stored, None)


@pytest.mark.parametrize("alg", SIGNING_ALGORITHMS)
def test_each_algorithm_signs_with_its_key_and_verifies_against_the_jwks(
    keys: dict[str, SigningKey], ring: KeyRing, alg: str
) -> None:
    token = ring.sign({"sub": "alice"}, typ="at+jwt", alg=alg)
    decoded = jwt.decode(token, _published(ring), algorithms=[alg])
    assert decoded.header == {"alg": alg, "kid": keys[alg].kid, "typ": "at+jwt"}
    assert decoded.claims == {"sub": "alice"}
    assert ring.verify(token).claims["sub"] == "alice"
    assert ring.signing_kid_for(alg) == keys[alg].kid


def test_rs256_is_the_default_algorithm(keys: dict[str, SigningKey], ring: KeyRing) -> None:
    assert jwt.decode(ring.sign({}), _published(ring)).header["alg"] == "RS256"
    assert ring.signing_kid == keys["RS256"].kid


def test_signing_with_an_algorithm_the_ring_has_no_key_for_fails_clearly(
    keys: dict[str, SigningKey],
) -> None:
    only_rs256 = _ring(keys["RS256"])
    with pytest.raises(NoSigningKey, match="ES256"):
        only_rs256.sign({"sub": "x"}, alg="ES256")


def test_jwks_publishes_every_algorithm_with_kid_alg_and_use(
    keys: dict[str, SigningKey], ring: KeyRing
) -> None:
    published = {k["kid"]: (k["kty"], k["alg"], k["use"]) for k in ring.jwks()["keys"]}
    assert published == {keys[a].kid: (KEY_TYPES[a], a, "sig") for a in SIGNING_ALGORITHMS}
    assert json.loads(ring.jwks_json) == ring.jwks()


@pytest.mark.parametrize(("key_alg", "header_alg"), [("RS256", "PS256"), ("PS256", "RS256")])
def test_a_header_naming_another_algorithm_than_the_kids_key_is_refused(
    keys: dict[str, SigningKey], ring: KeyRing, key_alg: str, header_alg: str
) -> None:
    """The RSA key itself would check a PS256 signature made with it; the ring must not."""
    private = RSAKey.import_key(keys[key_alg].private_pem)  # no `alg`: joserfc signs anything
    header = {"alg": header_alg, "kid": keys[key_alg].kid, "typ": "JWT"}
    forged = jwt.encode(header, {"sub": "mallory"}, private, algorithms=[header_alg])
    assert jwt.decode(forged, private, algorithms=[header_alg]).claims["sub"] == "mallory"
    with pytest.raises(InvalidSignature):
        ring.verify(forged)


def test_alg_none_is_refused(keys: dict[str, SigningKey], ring: KeyRing) -> None:
    header = {"alg": "none", "kid": keys["RS256"].kid, "typ": "JWT"}
    with pytest.raises(InvalidSignature):
        ring.verify(f"{_segment(header)}.{_segment({'sub': 'mallory'})}.")


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
def test_hs256_keyed_with_the_public_key_is_refused(
    keys: dict[str, SigningKey], ring: KeyRing, alg: str
) -> None:
    """The classic confusion: an HMAC whose secret is the published public key."""
    private = serialization.load_pem_private_key(keys[alg].private_pem, password=None)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "kid": keys[alg].kid, "typ": "JWT"}
    signing_input = f"{_segment(header)}.{_segment({'sub': 'mallory'})}"
    for secret in (public_pem, keys[alg].public_jwk["n"].encode()):
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        with pytest.raises(InvalidSignature):
            ring.verify(f"{signing_input}.{_b64(mac)}")


def test_verify_refuses_tokens_of_unpublished_keys(ring: KeyRing) -> None:
    theirs = _stored("ES256")
    foreign = _ring(theirs).sign({"sub": "x"}, alg="ES256")
    with pytest.raises(InvalidSignature):
        ring.verify(foreign)
    with pytest.raises(InvalidSignature):
        ring.verify("not.a.jwt")


def test_a_ring_with_other_published_keys_signs_as_before(
    keys: dict[str, SigningKey], ring: KeyRing
) -> None:
    older = _stored("ES256")
    wider = ring.with_published([*ring.jwks()["keys"], older.public_jwk])
    assert wider.verify(_ring(older).sign({"sub": "x"}, alg="ES256")).claims == {"sub": "x"}
    assert wider.signing_kid_for("ES256") == keys["ES256"].kid


def test_newest_activated_key_signs_and_retired_keys_stay_published() -> None:
    old = _stored(publish_until=NOW + timedelta(hours=2))
    new = _stored(activate_at=NOW + timedelta(seconds=20))
    assert choose_signing_key([old, new], NOW, "RS256") == old
    assert choose_signing_key([old, new], NOW + timedelta(seconds=20), "RS256") == new
    assert published_keys([old, new], NOW + timedelta(hours=1)) == [old, new]
    assert published_keys([old, new], NOW + timedelta(hours=2)) == [new]


def test_each_algorithm_has_its_own_signing_key(keys: dict[str, SigningKey]) -> None:
    newer_ps256 = _stored("PS256", activate_at=NOW + timedelta(seconds=20))
    listed = [*keys.values(), newer_ps256]
    later = NOW + timedelta(seconds=20)
    assert choose_signing_keys(listed, NOW) == keys
    assert choose_signing_keys(listed, later) == {**keys, "PS256": newer_ps256}
    assert choose_signing_key(listed, later, "RS256") == keys["RS256"]
    assert choose_signing_keys([keys["ES256"]], NOW) == {"ES256": keys["ES256"]}


@pytest.mark.parametrize(
    "header",
    [
        b'{"alg":"RS256","crit":1}',
        b'{"alg":"RS256","kid":{"a":1}}',
        b'{"alg":["RS256"],"kid":"x"}',
        b'["not", "an", "object"]',
    ],
)
def test_verify_refuses_odd_headers_as_an_invalid_signature(ring: KeyRing, header: bytes) -> None:
    """Never an unexpected exception (a 500) for what anyone can send as a token."""
    with pytest.raises(InvalidSignature):
        ring.verify(f"{_b64(header)}.eyJzdWIiOiJ4In0.c2ln")


def test_a_token_verified_before_is_refused_by_a_ring_that_no_longer_publishes_its_key(
    ring: KeyRing,
) -> None:
    """A ring remembers the tokens it verified (resource servers present one token many
    times); a ring reloaded without the key (retired, removed) must not."""
    token = ring.sign({"sub": "alice"}, typ="at+jwt")
    assert ring.verify(token).claims["sub"] == "alice"
    assert ring.verify(token).claims["sub"] == "alice"

    without_the_key = ring.with_published([])
    with pytest.raises(InvalidSignature):
        without_the_key.verify(token)


def test_a_refused_token_stays_refused(ring: KeyRing) -> None:
    """Only good answers are remembered; a forgery is checked (and refused) every time."""
    token = ring.sign({"sub": "alice"}, typ="at+jwt")
    header, _payload, signature = token.split(".")
    forged = f"{header}.{_segment({'sub': 'mallory'})}.{signature}"
    for _ in range(2):
        with pytest.raises(InvalidSignature):
            ring.verify(forged)


def test_a_dropped_ring_is_freed_at_once_with_the_tokens_it_remembers(ring: KeyRing) -> None:
    """No reference cycle: a replaced ring (a rotation) does not wait for the cyclic
    collector, which startup objects are frozen out of."""
    replaced = ring.with_published(ring.jwks()["keys"])
    replaced.verify(ring.sign({"sub": "alice"}, typ="at+jwt"))
    freed = weakref.ref(replaced)
    del replaced
    assert freed() is None
