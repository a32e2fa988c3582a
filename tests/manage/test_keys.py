"""Key life cycle: the first key, rotation with overlap, and what a running server signs with."""

from __future__ import annotations

from datetime import timedelta

from joserfc import jwt
from joserfc.jwk import KeySet

from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.manage.keys import (
    KeyRingCache,
    activation_delay,
    ensure_signing_key,
    list_signing_keys,
    rotate_signing_key,
)
from idplus.store.sql.uow import SqlStore


def _settings(store: SqlStore, **overrides: object) -> Settings:
    return Settings(database_url=store.database.url, **overrides)  # type: ignore[arg-type]


def test_first_start_creates_one_signing_key(store: SqlStore, clock: FrozenClock) -> None:
    settings = _settings(store)
    ensure_signing_key(store, settings, clock)
    ensure_signing_key(store, settings, clock)
    (key,) = list_signing_keys(store, clock)
    assert key["state"] == "signing"
    assert key["encrypted"] is False


def test_keys_are_encrypted_when_a_key_encryption_key_is_set(
    store: SqlStore, clock: FrozenClock
) -> None:
    settings = _settings(store, key_encryption_key="correct horse battery staple")
    ensure_signing_key(store, settings, clock)
    assert list_signing_keys(store, clock)[0]["encrypted"] is True
    ring = KeyRingCache(store, settings, clock).current()
    assert ring.verify(ring.sign({"sub": "x"})).claims == {"sub": "x"}


def test_token_signed_before_rotation_still_verifies_against_the_jwks(
    store: SqlStore, clock: FrozenClock
) -> None:
    settings = _settings(store)
    cache = KeyRingCache(store, settings, clock)
    ensure_signing_key(store, settings, clock)
    old_ring = cache.current()
    old_token = old_ring.sign({"sub": "alice"})

    new_key = rotate_signing_key(store, settings, clock)
    clock.advance(activation_delay(settings))
    new_ring = cache.current()

    assert new_ring.signing_kid == new_key.kid != old_ring.signing_kid
    published = KeySet.import_key_set(new_ring.jwks())
    assert jwt.decode(old_token, published).claims == {"sub": "alice"}
    assert jwt.decode(new_ring.sign({"sub": "bob"}), published).header["kid"] == new_key.kid


def test_rotated_key_is_published_before_it_signs(store: SqlStore, clock: FrozenClock) -> None:
    settings = _settings(store)
    cache = KeyRingCache(store, settings, clock)
    ensure_signing_key(store, settings, clock)
    old_kid = cache.current().signing_kid

    new_key = rotate_signing_key(store, settings, clock)
    clock.advance(timedelta(seconds=settings.key_cache_seconds))
    ring = cache.current()

    assert ring.signing_kid == old_kid
    assert new_key.kid in {k["kid"] for k in ring.jwks()["keys"]}


def test_old_key_leaves_the_jwks_once_its_tokens_have_expired(
    store: SqlStore, clock: FrozenClock
) -> None:
    settings = _settings(store, access_token_lifetime=600, id_token_lifetime=300)
    ensure_signing_key(store, settings, clock)
    old_kid = KeyRingCache(store, settings, clock).current().signing_kid
    rotate_signing_key(store, settings, clock)

    clock.advance(activation_delay(settings) + timedelta(seconds=599))
    assert old_kid in _published_kids(store, settings, clock)
    clock.advance(timedelta(seconds=1))
    assert old_kid not in _published_kids(store, settings, clock)
    states = {k["kid"]: k["state"] for k in list_signing_keys(store, clock)}
    assert states[old_kid] == "expired"


def _published_kids(store: SqlStore, settings: Settings, clock: FrozenClock) -> set[str]:
    return {k["kid"] for k in KeyRingCache(store, settings, clock).current().jwks()["keys"]}


def test_rotation_without_any_key_signs_at_once(store: SqlStore, clock: FrozenClock) -> None:
    settings = _settings(store)
    key = rotate_signing_key(store, settings, clock)
    assert key.activate_at == clock.now()
    assert KeyRingCache(store, settings, clock).current().signing_kid == key.kid


def test_the_first_key_is_recorded_once_with_its_public_facts(
    store: SqlStore, clock: FrozenClock
) -> None:
    settings = _settings(store)
    ensure_signing_key(store, settings, clock)
    ensure_signing_key(store, settings, clock)  # a second start: a key can sign, none is made
    (key,) = list_signing_keys(store, clock)
    with store.reading() as uow:
        (event,) = uow.audit.list_events(events=("key.created",))
    assert (event.client_id, event.user_id) == (None, None)
    # The public facts only: nothing of the private key.
    assert event.detail == {"kid": key["kid"], "alg": "RS256",
                            "activate_at": clock.now().isoformat()}  # fmt: skip
