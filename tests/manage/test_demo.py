"""The demo seed: only on an empty database, credentials returned once."""

from __future__ import annotations

from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.crypto.hashing import verify_client_secret, verify_password
from idplus.manage.clients import get_client
from idplus.manage.demo import seed_demo
from idplus.manage.users import get_user
from idplus.store.sql.engine import Database
from idplus.store.sql.uow import SqlStore


def test_seed_creates_demo_clients_and_user_once(
    sqlite_db: Database, settings: Settings, clock: FrozenClock
) -> None:
    store = SqlStore(sqlite_db)
    created = seed_demo(store, settings, clock)
    assert created is not None
    web, spa = created["clients"]
    assert spa["redirect_uri"] == f"{settings.issuer}/debugger/callback"
    assert get_client(store, "demo-spa").client_type.value == "Public"
    assert get_client(store, "demo-spa").redirect_uris == (spa["redirect_uri"],)
    stored_secret = get_client(store, "demo-web").secrets[0].secret_hash
    assert verify_client_secret(stored_secret, web["client_secret"])
    user = created["user"]
    assert verify_password(get_user(store, user["username"]).password_hash, user["password"])

    assert seed_demo(store, settings, clock) is None
