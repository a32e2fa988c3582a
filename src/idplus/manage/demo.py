"""The demo data `make run` seeds into an empty database, and what to tell its user at start.

Over http (development) the demo credentials are fixed and documented, like the test users of
IdentityServer's quickstarts or Keycloak's dev-mode admin: the database keeps only hashes, so a
random password printed once would be lost at the second start. Over https they are random and
shown once, since that server may be reachable by others.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idplus.clock import Clock
from idplus.config import Settings
from idplus.crypto.hashing import verify_client_secret, verify_password
from idplus.manage.api_products import add_api_product
from idplus.manage.clients import ClientRegistration, add_client, remove_client
from idplus.manage.users import UserRegistration, add_user
from idplus.models import Client
from idplus.policies import BUILT_IN_CLIENT_IDS
from idplus.store.base import Store

DEMO_USERNAME = "+4799999999"
# A second user whose login needs the SMS code too (`idplus user add --otp`).
DEMO_OTP_USERNAME = "+4799999998"
DEMO_USERNAMES = (DEMO_USERNAME, DEMO_OTP_USERNAME)
DEMO_API_SCOPE = "api:demo"
DEMO_WEB_CLIENT_ID = "demo-web"
DEMO_SPA_CLIENT_ID = "demo-spa"
DEMO_CLIENT_IDS = (DEMO_WEB_CLIENT_ID, DEMO_SPA_CLIENT_ID)
# Development (http issuer) only; README's first screen documents them.
DEVELOPMENT_PASSWORD = "demo-password"
DEVELOPMENT_CLIENT_SECRET = "demo-web-development-secret"
DEBUGGER_CALLBACK_PATH = "/debugger/callback"


def seed_demo(store: Store, settings: Settings, clock: Clock) -> dict[str, Any] | None:
    """Create the demo clients and users when the database has none; None when it had.

    A database that holds only demo data, seeded for another development issuer (`make run`
    before with another PORT), gets its demo clients registered again for this one.
    """
    with store.reading() as uow:
        registered = {c.client_id: c for c in uow.clients.list_all()}
        users = uow.users.count()
        demo_users = sum(1 for u in DEMO_USERNAMES if uow.users.find_by_username(u))
    others = set(registered) - set(BUILT_IN_CLIENT_IDS)
    if not users and not others:
        return _seed(store, settings, clock)
    only_demo = users == demo_users and others <= set(DEMO_CLIENT_IDS)
    stale = any(_callback(settings) not in c.redirect_uris for c in _demo_clients(registered))
    if only_demo and stale and _development(settings):
        for client_id in sorted(others):
            remove_client(store, clock, client_id)
        return {
            "reregistered_for": settings.issuer,
            "clients": _add_clients(store, settings, clock),
        }
    return None


def _demo_clients(registered: dict[str, Client]) -> list[Client]:
    return [registered[c] for c in DEMO_CLIENT_IDS if c in registered]


def _callback(settings: Settings) -> str:
    return settings.issuer + DEBUGGER_CALLBACK_PATH


def _development(settings: Settings) -> bool:
    # Fixed credentials only where nobody else can reach them: plain http on loopback.
    return settings.issuer_is_development


def _seed(store: Store, settings: Settings, clock: Clock) -> dict[str, Any]:
    add_api_product(store, clock, DEMO_API_SCOPE, name="demo API")
    clients = _add_clients(store, settings, clock)
    password = DEVELOPMENT_PASSWORD if _development(settings) else secrets.token_urlsafe(12)
    demo_user = UserRegistration(
        username=DEMO_USERNAME,
        password=password,
        email="demo@example.com",
        given_name="Demo",
        family_name="Bruker",
        ial=2,
    )
    add_user(store, clock, demo_user)
    add_user(
        store,
        clock,
        UserRegistration(
            username=DEMO_OTP_USERNAME,
            password=password,
            phone_number=DEMO_OTP_USERNAME,
            email="demo-sms@example.com",
            given_name="Demo",
            family_name="Totrinn",
            ial=2,
            otp_required=True,
        ),
    )
    base, secret = settings.issuer, clients[0]["client_secret"]
    return {
        "examples": [
            f"curl -u {DEMO_WEB_CLIENT_ID}:{secret} --data grant_type=client_credentials "
            f"{base}/oauth/v2/token",
            f'curl -H "Authorization: Bearer ACCESS_TOKEN" {base}/oauth/v2/logout',
        ],
        "clients": clients,
        "user": {"username": DEMO_USERNAME, "password": password},
        "users": [
            {"username": DEMO_USERNAME, "password": password, "second_factor": None},
            {"username": DEMO_OTP_USERNAME, "password": password, "second_factor": "sms"},
        ],
    }


def _add_clients(store: Store, settings: Settings, clock: Clock) -> list[dict[str, Any]]:
    callback = _callback(settings)
    logged_out = f"{settings.issuer}/debugger"
    web = add_client(
        store,
        clock,
        ClientRegistration(
            client_id=DEMO_WEB_CLIENT_ID,
            client_type="Confidential",
            name="Demo web app",
            redirect_uris=[callback],
            post_logout_redirect_uris=[logged_out],
            grant_types=["authorization_code", "refresh_token", "client_credentials"],
            scopes=["openid", "profile", "email", "phone", "offline_access", DEMO_API_SCOPE],
            api_access=True,
            secret=DEVELOPMENT_CLIENT_SECRET if _development(settings) else None,
        ),
    )
    add_client(
        store,
        clock,
        ClientRegistration(
            client_id=DEMO_SPA_CLIENT_ID,
            client_type="Public",
            name="Demo single-page app",
            redirect_uris=[callback],
            post_logout_redirect_uris=[logged_out],
        ),
    )
    return [
        {
            "client_id": DEMO_WEB_CLIENT_ID,
            "client_secret": web.client_secret,
            "redirect_uri": callback,
        },
        {"client_id": DEMO_SPA_CLIENT_ID, "redirect_uri": callback},
    ]


@dataclass(frozen=True, slots=True)
class DemoLogin:
    username: str
    # None: not known here (random at the seed, or changed since).
    password: str | None
    second_factor: bool


@dataclass(frozen=True, slots=True)
class NextSteps:
    """What a person who just ran `make run` needs to try a login."""

    issuer: str
    debugger_url: str | None
    account_url: str
    logins: tuple[DemoLogin, ...]
    # demo-web's secret while it is still the documented development one.
    client_secret: str | None
    # Whether the debugger lists the demo clients (their callback is this issuer's).
    clients_match_issuer: bool
    outbox: Path
    # The SQLite file to delete to start afresh; None for another database.
    database_file: Path | None


def describe_next_steps(store: Store, settings: Settings) -> NextSteps:
    with store.reading() as uow:
        users = [uow.users.find_by_username(u) for u in DEMO_USERNAMES]
        web = uow.clients.find(DEMO_WEB_CLIENT_ID)
        spa = uow.clients.find(DEMO_SPA_CLIENT_ID)
    logins = tuple(
        DemoLogin(
            username=user.username,
            password=DEVELOPMENT_PASSWORD
            if verify_password(user.password_hash, DEVELOPMENT_PASSWORD)
            else None,
            second_factor=user.otp_required,
        )
        for user in users
        if user is not None
    )
    secret_known = web is not None and any(
        verify_client_secret(s.secret_hash, DEVELOPMENT_CLIENT_SECRET) for s in web.secrets
    )
    return NextSteps(
        issuer=settings.issuer,
        debugger_url=f"{settings.issuer}/debugger" if settings.debugger_enabled else None,
        account_url=f"{settings.issuer}/account",
        logins=logins,
        client_secret=DEVELOPMENT_CLIENT_SECRET if secret_known else None,
        clients_match_issuer=all(
            _callback(settings) in c.redirect_uris for c in (web, spa) if c is not None
        ),
        outbox=settings.outbox,
        database_file=sqlite_file(settings.database_url),
    )


def sqlite_file(database_url: str) -> Path | None:
    """The file of a `sqlite:///path` URL (relative to the working directory), else None."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix) or database_url == prefix + ":memory:":
        return None
    return Path(database_url.removeprefix(prefix).split("?")[0])
