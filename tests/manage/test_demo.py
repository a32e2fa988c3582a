"""The demo seed: only on an empty database; fixed, documented credentials for a development
(http) issuer, random ones shown once over https; what `make run` tells its user at start."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.crypto.hashing import verify_client_secret, verify_password
from idplus.manage.clients import ClientRegistration, add_client, get_client
from idplus.manage.demo import (
    DEMO_OTP_USERNAME,
    DEMO_USERNAME,
    DEVELOPMENT_CLIENT_SECRET,
    DEVELOPMENT_PASSWORD,
    describe_next_steps,
    seed_demo,
    sqlite_file,
)
from idplus.manage.users import get_user, set_password
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


def test_a_development_seed_has_the_documented_credentials(
    sqlite_db: Database, settings: Settings, clock: FrozenClock
) -> None:
    """The database keeps only hashes: a random password printed once is gone at the next
    start, so over http the demo logs in with what the README says."""
    store = SqlStore(sqlite_db)
    created = seed_demo(store, settings, clock)
    assert created is not None
    assert created["clients"][0]["client_secret"] == DEVELOPMENT_CLIENT_SECRET
    for username in (DEMO_USERNAME, DEMO_OTP_USERNAME):
        assert verify_password(get_user(store, username).password_hash, DEVELOPMENT_PASSWORD)


def test_an_https_seed_makes_random_credentials(
    sqlite_db: Database, settings: Settings, clock: FrozenClock
) -> None:
    production = settings.model_copy(
        update={
            "issuer": "https://id.example.no",
            "secret_key": SecretStr("cookie-key"),
            "key_encryption_key": SecretStr("kek"),
        }
    )
    store = SqlStore(sqlite_db)
    created = seed_demo(store, production, clock)
    assert created is not None
    assert created["user"]["password"] != DEVELOPMENT_PASSWORD
    assert created["clients"][0]["client_secret"] != DEVELOPMENT_CLIENT_SECRET
    assert describe_next_steps(store, production).logins[0].password is None


def test_the_second_demo_user_needs_the_sms_code(
    sqlite_db: Database, settings: Settings, clock: FrozenClock
) -> None:
    store = SqlStore(sqlite_db)
    seed_demo(store, settings, clock)
    assert not get_user(store, DEMO_USERNAME).otp_required
    otp_user = get_user(store, DEMO_OTP_USERNAME)
    assert otp_user.otp_required
    assert otp_user.phone_number == DEMO_OTP_USERNAME


def test_a_demo_only_database_follows_a_new_development_issuer(
    sqlite_db: Database, settings: Settings, clock: FrozenClock
) -> None:
    """`make run` and then `make run PORT=8300`: the debugger must list the demo clients."""
    store = SqlStore(sqlite_db)
    seed_demo(store, settings, clock)
    moved = settings.model_copy(update={"issuer": "http://localhost:8300"})
    again = seed_demo(store, moved, clock)
    assert again is not None
    assert again["reregistered_for"] == "http://localhost:8300"
    for client_id in ("demo-web", "demo-spa"):
        client = get_client(store, client_id)
        assert client.redirect_uris == ("http://localhost:8300/debugger/callback",)
        assert client.post_logout_redirect_uris == ("http://localhost:8300/debugger",)
    assert seed_demo(store, moved, clock) is None
    assert describe_next_steps(store, moved).clients_match_issuer


def test_demo_clients_next_to_other_data_are_left_alone(
    sqlite_db: Database, settings: Settings, clock: FrozenClock
) -> None:
    store = SqlStore(sqlite_db)
    seed_demo(store, settings, clock)
    add_client(
        store,
        clock,
        ClientRegistration(
            client_id="shop", client_type="Public", redirect_uris=["https://shop.example/cb"]
        ),
    )
    moved = settings.model_copy(update={"issuer": "http://localhost:8300"})
    assert seed_demo(store, moved, clock) is None
    assert get_client(store, "demo-spa").redirect_uris == (f"{settings.issuer}/debugger/callback",)
    assert not describe_next_steps(store, moved).clients_match_issuer


def test_next_steps_know_the_development_password_until_it_is_changed(
    sqlite_db: Database, settings: Settings, clock: FrozenClock
) -> None:
    store = SqlStore(sqlite_db)
    seed_demo(store, settings, clock)
    steps = describe_next_steps(store, settings)
    assert steps.debugger_url == f"{settings.issuer}/debugger"
    assert steps.account_url == f"{settings.issuer}/account"
    assert steps.client_secret == DEVELOPMENT_CLIENT_SECRET
    assert [(login.username, login.password, login.second_factor) for login in steps.logins] == [
        (DEMO_USERNAME, DEVELOPMENT_PASSWORD, False),
        (DEMO_OTP_USERNAME, DEVELOPMENT_PASSWORD, True),
    ]
    assert steps.outbox == settings.outbox

    set_password(store, clock, DEMO_USERNAME, "changed-in-the-account-page")
    assert describe_next_steps(store, settings).logins[0].password is None


def test_next_steps_of_a_database_without_demo_data(
    sqlite_db: Database, settings: Settings
) -> None:
    steps = describe_next_steps(
        SqlStore(sqlite_db), settings.model_copy(update={"debugger": False})
    )
    assert steps.logins == ()
    assert steps.client_secret is None
    assert steps.debugger_url is None


def test_the_sqlite_file_to_delete_to_start_afresh() -> None:
    assert sqlite_file("sqlite:///var/idplus.db") == Path("var/idplus.db")
    assert sqlite_file("sqlite:////srv/idplus/idplus.db") == Path("/srv/idplus/idplus.db")
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql://db/idplus") is None
