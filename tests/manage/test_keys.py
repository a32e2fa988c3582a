"""Key life cycle per algorithm: the first keys, rotation with overlap, and what a running server
signs with."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.crypto.keys import KeyRing
from idplus.manage.keys import (
    CLOCK_SKEW,
    KeyRingCache,
    activation_delay,
    ensure_signing_key,
    list_signing_keys,
    rotate_signing_key,
)
from idplus.models import SIGNING_ALGORITHMS
from idplus.store.sql.uow import SqlStore


def _settings(store: SqlStore, **overrides: object) -> Settings:
    return Settings(database_url=store.database.url, **overrides)  # type: ignore[arg-type]


def _published(ring: KeyRing) -> KeySet:
    jwks: Any = ring.jwks()
    return KeySet.import_key_set(jwks)


def _states(store: SqlStore, clock: FrozenClock) -> dict[str, tuple[str, str]]:
    """kid → (alg, state)."""
    return {k["kid"]: (k["alg"], k["state"]) for k in list_signing_keys(store, clock)}


def test_first_start_creates_one_signing_key_per_algorithm(
    store: SqlStore, clock: FrozenClock
) -> None:
    settings = _settings(store)
    ensure_signing_key(store, settings, clock)
    ensure_signing_key(store, settings, clock)
    keys = list_signing_keys(store, clock)
    assert sorted(k["alg"] for k in keys) == sorted(SIGNING_ALGORITHMS)
    assert {k["state"] for k in keys} == {"signing"}
    assert {k["encrypted"] for k in keys} == {False}


def test_a_deployment_with_only_an_rs256_key_gets_the_others_signing_at_once(
    store: SqlStore, clock: FrozenClock
) -> None:
    settings = _settings(store)
    (rs256,) = rotate_signing_key(store, settings, clock, "RS256")  # what an older version left

    ensure_signing_key(store, settings, clock)

    states = _states(store, clock)
    assert states.pop(rs256.kid) == ("RS256", "signing")
    assert sorted(states.values()) == [("ES256", "signing"), ("PS256", "signing")]
    ring = KeyRingCache(store, settings, clock).current()
    assert ring.signing_kid == rs256.kid
    with store.reading() as uow:
        created = uow.audit.list_events(events=("key.created",))
        stored = uow.signing_keys.list_all()
    assert sorted(str(e.detail["alg"]) for e in created) == ["ES256", "PS256"]
    # The version before (in a rolling upgrade, or after a downgrade) signs as RS256 with the
    # newest key of any algorithm: that must still be the RS256 key.
    assert max(stored, key=lambda k: k.activate_at).kid == rs256.kid


def test_processes_starting_together_create_one_key_per_algorithm(
    store: SqlStore, clock: FrozenClock
) -> None:
    """The second takes the lock after the first committed, with a clock a little behind (or
    a moment read before the lock): the first one's keys count, no second set is made."""
    settings = _settings(store)

    ensure_signing_key(store, settings, clock)
    ensure_signing_key(store, settings, FrozenClock(clock.now() - timedelta(seconds=5)))

    assert sorted(k["alg"] for k in list_signing_keys(store, clock)) == sorted(SIGNING_ALGORITHMS)


def test_keys_are_encrypted_when_a_key_encryption_key_is_set(
    store: SqlStore, clock: FrozenClock
) -> None:
    settings = _settings(store, key_encryption_key="correct horse battery staple")
    ensure_signing_key(store, settings, clock)
    assert {k["encrypted"] for k in list_signing_keys(store, clock)} == {True}
    ring = KeyRingCache(store, settings, clock).current()
    for alg in SIGNING_ALGORITHMS:
        assert ring.verify(ring.sign({"sub": "x"}, alg=alg)).claims == {"sub": "x"}


def test_the_ring_signs_with_each_algorithms_own_key(store: SqlStore, clock: FrozenClock) -> None:
    settings = _settings(store)
    ensure_signing_key(store, settings, clock)
    ring = KeyRingCache(store, settings, clock).current()
    signing = {k["alg"]: k["kid"] for k in list_signing_keys(store, clock)}
    for alg in SIGNING_ALGORITHMS:
        header = jwt.decode(
            ring.sign({"sub": "x"}, alg=alg), _published(ring), SIGNING_ALGORITHMS
        ).header
        assert (header["alg"], header["kid"]) == (alg, signing[alg])


def test_token_signed_before_rotation_still_verifies_against_the_jwks(
    store: SqlStore, clock: FrozenClock
) -> None:
    settings = _settings(store)
    cache = KeyRingCache(store, settings, clock)
    ensure_signing_key(store, settings, clock)
    old_ring = cache.current()
    old_tokens = [old_ring.sign({"sub": "alice"}, alg=alg) for alg in SIGNING_ALGORITHMS]

    new_keys = rotate_signing_key(store, settings, clock)
    clock.advance(activation_delay(settings))
    new_ring = cache.current()

    assert [k.alg for k in new_keys] == list(SIGNING_ALGORITHMS)
    published = _published(new_ring)
    for token in old_tokens:
        assert jwt.decode(token, published, SIGNING_ALGORITHMS).claims == {"sub": "alice"}
    for key in new_keys:
        assert new_ring.signing_kid_for(key.alg) == key.kid != old_ring.signing_kid_for(key.alg)
        new_token = new_ring.sign({"sub": "bob"}, alg=key.alg)
        assert jwt.decode(new_token, published, SIGNING_ALGORITHMS).header["kid"] == key.kid


def test_rotated_keys_are_published_before_they_sign(store: SqlStore, clock: FrozenClock) -> None:
    settings = _settings(store)
    cache = KeyRingCache(store, settings, clock)
    ensure_signing_key(store, settings, clock)
    old = {alg: cache.current().signing_kid_for(alg) for alg in SIGNING_ALGORITHMS}

    new_keys = rotate_signing_key(store, settings, clock)
    clock.advance(timedelta(seconds=settings.key_cache_seconds))
    ring = cache.current()

    assert {alg: ring.signing_kid_for(alg) for alg in SIGNING_ALGORITHMS} == old
    assert {k.kid for k in new_keys} <= {k["kid"] for k in ring.jwks()["keys"]}


@pytest.mark.parametrize("alg", SIGNING_ALGORITHMS)
def test_rotating_one_algorithm_keeps_the_others_keys(
    store: SqlStore, clock: FrozenClock, alg: str
) -> None:
    settings = _settings(store)
    ensure_signing_key(store, settings, clock)
    before = _states(store, clock)

    (new_key,) = rotate_signing_key(store, settings, clock, alg)
    clock.advance(timedelta(days=30))  # long after the rotated-out key stopped being published

    after = _states(store, clock)
    assert new_key.alg == alg
    assert after.pop(new_key.kid) == (alg, "signing")
    assert after == {
        kid: (a, "expired" if a == alg else "signing") for kid, (a, _) in before.items()
    }
    with store.reading() as uow:
        (event,) = uow.audit.list_events(events=("key.rotated",))
    (replaced,) = (kid for kid, (a, _) in before.items() if a == alg)
    assert event.detail["alg"] == alg
    assert event.detail["replaced"] == [replaced]


def test_rotating_an_unknown_algorithm_is_refused(store: SqlStore, clock: FrozenClock) -> None:
    with pytest.raises(ValueError, match="HS256"):
        rotate_signing_key(store, _settings(store), clock, "HS256")


def test_old_key_leaves_the_jwks_once_its_tokens_have_expired(
    store: SqlStore, clock: FrozenClock
) -> None:
    settings = _settings(store, access_token_lifetime=600, id_token_lifetime=300)
    ensure_signing_key(store, settings, clock)
    old_kids = {k["kid"] for k in list_signing_keys(store, clock)}
    rotate_signing_key(store, settings, clock)

    clock.advance(activation_delay(settings) + timedelta(seconds=599))
    assert old_kids <= _published_kids(store, settings, clock)
    clock.advance(timedelta(seconds=1))
    assert not old_kids & _published_kids(store, settings, clock)
    states = _states(store, clock)
    assert {states[kid][1] for kid in old_kids} == {"expired"}


def _published_kids(store: SqlStore, settings: Settings, clock: FrozenClock) -> set[str]:
    return {k["kid"] for k in KeyRingCache(store, settings, clock).current().jwks()["keys"]}


def test_rotation_without_any_key_signs_at_once(store: SqlStore, clock: FrozenClock) -> None:
    settings = _settings(store)
    new_keys = rotate_signing_key(store, settings, clock)
    assert {k.activate_at for k in new_keys} == {clock.now()}
    ring = KeyRingCache(store, settings, clock).current()
    assert {k.kid for k in new_keys} == {ring.signing_kid_for(k.alg) for k in new_keys}


def test_the_first_keys_are_recorded_once_with_their_public_facts(
    store: SqlStore, clock: FrozenClock
) -> None:
    settings = _settings(store)
    ensure_signing_key(store, settings, clock)
    ensure_signing_key(store, settings, clock)  # a second start: keys can sign, none is made
    keys = list_signing_keys(store, clock)
    with store.reading() as uow:
        events = uow.audit.list_events(events=("key.created",))
    assert {(e.client_id, e.user_id) for e in events} == {(None, None)}
    # Dated a little in the past, so a server whose clock is behind signs with them too.
    assert {k["activate_at"] for k in keys} == {(clock.now() - CLOCK_SKEW).isoformat()}
    # The public facts only: nothing of the private key.
    assert sorted((e.detail for e in events), key=lambda d: str(d["alg"])) == sorted(
        ({"kid": k["kid"], "alg": k["alg"], "activate_at": k["activate_at"]} for k in keys),
        key=lambda d: str(d["alg"]),
    )


def test_a_reload_that_finds_the_same_keys_keeps_the_ring(
    store: SqlStore, clock: FrozenClock
) -> None:
    """The ring remembers the tokens it verified: a reload every few seconds that finds no
    change keeps it (and them); a rotation makes a new one."""
    settings = _settings(store)
    cache = KeyRingCache(store, settings, clock)
    ensure_signing_key(store, settings, clock)
    first = cache.current()

    clock.advance(timedelta(seconds=settings.key_cache_seconds))
    assert cache.current() is first

    rotate_signing_key(store, settings, clock)
    clock.advance(timedelta(seconds=settings.key_cache_seconds))
    assert cache.current() is not first
