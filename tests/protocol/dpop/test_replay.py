"""A DPoP proof is accepted once (RFC 9449 §11.1), on every instance sharing the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from idplus.clock import FrozenClock
from idplus.manage.maintenance import prune
from idplus.protocol.dpop.proof import PROOF_WINDOW_SECONDS, DpopProof, InvalidDpopProof
from idplus.protocol.dpop.replay import REPLAY_MARGIN_SECONDS, spend_proof
from idplus.store.sql.engine import Database
from idplus.store.sql.tables import dpop_proof_jtis
from idplus.store.sql.uow import SqlStore

HANDLE_KEY = b"h" * 32


def _proof(clock: FrozenClock, *, jkt: str = "key-1", jti: str = "proof-1") -> DpopProof:
    return DpopProof(
        jkt=jkt, jti=jti, issued_at=int(clock.now().timestamp()), nonce=None, algorithm="ES256"
    )


def test_a_replayed_proof_is_refused_on_another_instance(db: Database, clock: FrozenClock) -> None:
    first, second = SqlStore(db), SqlStore(Database(db.url))
    proof, now = _proof(clock), clock.now()
    try:
        with first.transaction() as uow:
            spend_proof(uow, HANDLE_KEY, proof, now)
        with second.transaction() as uow, pytest.raises(InvalidDpopProof) as replayed:
            spend_proof(uow, HANDLE_KEY, proof, now)
        assert replayed.value.detail == "replayed"
        with first.transaction() as uow, pytest.raises(InvalidDpopProof):
            spend_proof(uow, HANDLE_KEY, proof, now + timedelta(seconds=PROOF_WINDOW_SECONDS))
    finally:
        second.dispose()


def test_the_same_jti_from_another_key_is_another_proof(db: Database, clock: FrozenClock) -> None:
    store, now = SqlStore(db), clock.now()
    with store.transaction() as uow:
        spend_proof(uow, HANDLE_KEY, _proof(clock, jkt="key-1"), now)
        spend_proof(uow, HANDLE_KEY, _proof(clock, jkt="key-2"), now)
        spend_proof(uow, HANDLE_KEY, _proof(clock, jkt="key-1", jti="proof-2"), now)


def test_the_record_stores_a_keyed_hash_only(db: Database, clock: FrozenClock) -> None:
    with SqlStore(db).transaction() as uow:
        spend_proof(uow, HANDLE_KEY, _proof(clock, jti="a-recognisable-jti"), clock.now())
    with db.engine.connect() as conn:
        (stored,) = conn.execute(sa.select(dpop_proof_jtis.c.jti_hash)).scalars()
    assert "recognisable" not in stored and "key-1" not in stored and len(stored) == 64


def test_the_record_outlives_the_window_then_goes(db: Database, clock: FrozenClock) -> None:
    store, proof = SqlStore(db), _proof(clock)
    with store.transaction() as uow:
        spend_proof(uow, HANDLE_KEY, proof, clock.now())
    # Still kept when the proof's iat is a whole window old (and a little more, for clocks).
    clock.advance(timedelta(seconds=PROOF_WINDOW_SECONDS + REPLAY_MARGIN_SECONDS - 1))
    assert prune(store, clock, audit_retention=timedelta(days=365))["dpop_proof_jtis"] == 0
    clock.advance(timedelta(seconds=1))
    assert prune(store, clock, audit_retention=timedelta(days=365))["dpop_proof_jtis"] == 1
