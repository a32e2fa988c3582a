"""Every change to a registry — clients and their secrets, API products and subscribers,
signing keys, upstream providers — raises the registries' generation in its own transaction,
so every worker's caches learn of it; nothing else does, and a change not yet committed is not
seen by another instance."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.manage.api_products import add_api_product
from idplus.manage.clients import (
    ClientRegistration,
    add_client,
    remove_client,
    rotate_client_secret,
)
from idplus.manage.keys import rotate_signing_key
from idplus.manage.users import UserRegistration, add_user
from idplus.store.base import Store
from idplus.store.sql.engine import Database
from idplus.store.sql.uow import SqlStore


def _generation(store: Store) -> int:
    with store.reading() as uow:
        return uow.registry.generation()


def _service(store: Store, clock: FrozenClock) -> None:
    registration = ClientRegistration(
        client_id="svc", client_type="Confidential", grant_types=["client_credentials"],
        api_access=True,
    )  # fmt: skip
    add_client(store, clock, registration)


CHANGES: dict[str, Callable[[Store, FrozenClock, Settings], object]] = {
    "client added": lambda s, c, _: _service(s, c),
    "secret rotated": lambda s, c, _: rotate_client_secret(s, c, "svc"),
    "client removed": lambda s, c, _: remove_client(s, c, "svc"),
    "API product added": lambda s, c, _: add_api_product(s, c, "api:tv"),
    "subscriber added": lambda s, c, _: add_api_product(s, c, "api:tv", ["svc"]),
    "key rotated": lambda s, c, settings: rotate_signing_key(s, settings, c),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_registry_change_raises_the_generation(
    db: Database, clock: FrozenClock, settings: Settings, change: str
) -> None:
    store = SqlStore(db)
    if change != "client added":
        _service(store, clock)
    if change == "subscriber added":
        add_api_product(store, clock, "api:tv")
    before = _generation(store)
    CHANGES[change](store, clock, settings)
    assert _generation(store) > before


def test_other_writes_leave_it_alone(db: Database, clock: FrozenClock) -> None:
    store = SqlStore(db)
    before = _generation(store)
    add_user(store, clock, UserRegistration("+4790000001", "a long enough password"))
    assert _generation(store) == before


def test_another_instance_sees_the_new_generation_only_once_the_change_is_committed(
    db: Database, clock: FrozenClock
) -> None:
    if db.dialect_name == "sqlite":
        pytest.skip("SQLite has one writer and no concurrent reader of an open write here")
    first, second = SqlStore(db), SqlStore(Database(db.url))
    try:
        before = _generation(second)
        with first.transaction() as uow:
            uow.api_products.insert("api:tv", "TV", clock.now())
            assert _generation(second) == before
        assert _generation(second) > before
    finally:
        second.dispose()
