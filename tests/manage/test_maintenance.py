"""`idplus db prune` deletes what can no longer matter, and nothing that still can."""

from __future__ import annotations

from datetime import timedelta

from idplus.clock import FrozenClock
from idplus.manage.maintenance import prune
from idplus.store.base import Store


def test_prune_deletes_only_expired_rows(store: Store, clock: FrozenClock) -> None:
    now = clock.now()
    with store.transaction() as uow:
        uow.revoked_access_tokens.revoke("old", now - timedelta(seconds=1))
        uow.revoked_access_tokens.revoke("live", now + timedelta(hours=1))

    deleted = prune(store, clock)

    assert deleted["revoked_access_tokens"] == 1
    with store.reading() as uow:
        assert uow.revoked_access_tokens.is_revoked("live")
        assert not uow.revoked_access_tokens.is_revoked("old")
    assert prune(store, clock)["revoked_access_tokens"] == 0
