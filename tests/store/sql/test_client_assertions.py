"""A private_key_jwt assertion's jti is accepted once until it expires, on every instance."""

from __future__ import annotations

from datetime import timedelta

from idplus.clock import FrozenClock
from idplus.manage.maintenance import prune
from idplus.store.sql.engine import Database
from idplus.store.sql.uow import SqlStore


def test_a_jti_is_used_once_across_instances(db: Database, clock: FrozenClock) -> None:
    now = clock.now()
    first, second = SqlStore(db), SqlStore(Database(db.url))
    try:
        with first.transaction() as uow:
            assert uow.client_assertions.use_once("h1", now + timedelta(minutes=1), now)
        with second.transaction() as uow:
            assert not uow.client_assertions.use_once("h1", now + timedelta(minutes=1), now)
        with second.transaction() as uow:
            assert uow.client_assertions.use_once("h2", now + timedelta(minutes=1), now)
    finally:
        second.dispose()


def test_an_expired_record_neither_blocks_nor_survives_prune(
    db: Database, clock: FrozenClock
) -> None:
    store, now = SqlStore(db), clock.now()
    with store.transaction() as uow:
        for jti_hash, seconds in (("old", 30), ("stale", 30), ("live", 300)):
            assert uow.client_assertions.use_once(jti_hash, now + timedelta(seconds=seconds), now)
    clock.advance(timedelta(minutes=1))
    later = clock.now()
    with store.transaction() as uow:
        assert uow.client_assertions.use_once("stale", later + timedelta(minutes=1), later)
    assert prune(store, clock, audit_retention=timedelta(days=365))["client_assertion_jtis"] == 1
    with store.transaction() as uow:
        assert not uow.client_assertions.use_once("live", later + timedelta(minutes=5), later)
        assert uow.client_assertions.use_once("old", later + timedelta(minutes=1), later)
