"""What is accepted once — a private_key_jwt assertion's jti, a DPoP proof — is accepted once
until it expires, on every instance, and `idplus db prune` deletes the expired records."""

from __future__ import annotations

from datetime import timedelta

import pytest

from idplus.clock import FrozenClock
from idplus.manage.maintenance import prune
from idplus.store.base import UnitOfWork, UsedOnceRepository
from idplus.store.sql.engine import Database
from idplus.store.sql.uow import SqlStore

# The repository on the unit of work, and the table `prune` reports.
KINDS = [("client_assertions", "client_assertion_jtis"), ("dpop_proofs", "dpop_proof_jtis")]


def _records(uow: UnitOfWork, kind: str) -> UsedOnceRepository:
    repository: UsedOnceRepository = getattr(uow, kind)
    return repository


@pytest.mark.parametrize(("kind", "table"), KINDS)
def test_a_record_is_used_once_across_instances(
    db: Database, clock: FrozenClock, kind: str, table: str
) -> None:
    now, expires = clock.now(), clock.now() + timedelta(minutes=1)
    first, second = SqlStore(db), SqlStore(Database(db.url))
    try:
        with first.transaction() as uow:
            assert _records(uow, kind).use_once("h1", expires, now)
        with second.transaction() as uow:
            assert not _records(uow, kind).use_once("h1", expires, now)
        with second.transaction() as uow:
            assert _records(uow, kind).use_once("h2", expires, now)
    finally:
        second.dispose()


@pytest.mark.parametrize(("kind", "table"), KINDS)
def test_an_expired_record_neither_blocks_nor_survives_prune(
    db: Database, clock: FrozenClock, kind: str, table: str
) -> None:
    store, now = SqlStore(db), clock.now()
    with store.transaction() as uow:
        for jti_hash, seconds in (("old", 30), ("stale", 30), ("live", 300)):
            assert _records(uow, kind).use_once(jti_hash, now + timedelta(seconds=seconds), now)
    clock.advance(timedelta(minutes=1))
    later = clock.now()
    with store.transaction() as uow:
        assert _records(uow, kind).use_once("stale", later + timedelta(minutes=1), later)
    assert prune(store, clock, audit_retention=timedelta(days=365))[table] == 1
    with store.transaction() as uow:
        assert not _records(uow, kind).use_once("live", later + timedelta(minutes=5), later)
        assert _records(uow, kind).use_once("old", later + timedelta(minutes=1), later)
