"""The steps passkey tests share: a user with a fresh two-factor session, a login in progress,
and a registration or login run through the software authenticator."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.crypto.hashing import hash_handle
from idplus.models import Passkey, SsoSession, User
from idplus.protocol.assurance import acr_for_level
from idplus.protocol.context import AppContext
from idplus.protocol.passkeys.assertion import VerifiedPasskey, login_options, verify_passkey_login
from idplus.protocol.passkeys.registration import register_passkey, registration_options
from tests.protocol.login.driver import PHONE, Browser, add_login_user, add_web_client
from tests.webauthn_authenticator import SoftwareAuthenticator

ISSUER = "http://localhost:8000"


def on_issuer(ctx: AppContext, issuer: str = ISSUER, **settings: Any) -> AppContext:
    """The context with another issuer (the shared one is an IP address: no passkeys)."""
    current = ctx.settings
    fields: dict[str, Any] = {
        "issuer": issuer,
        "database_url": current.database_url,
        "outbox": current.outbox,
        **settings,
    }
    return replace(ctx, settings=Settings(**fields))


def advance(ctx: AppContext, delta: timedelta) -> None:
    """Move the test's frozen clock on."""
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(delta)


def add_user(ctx: AppContext, username: str = PHONE) -> User:
    add_login_user(ctx, username)
    with ctx.store.reading() as uow:
        user = uow.users.find_by_username(username)
    assert user is not None
    return user


def fresh_session(ctx: AppContext, user: User, *, level: int = 2, age: int = 0) -> str:
    """A live session of `user` whose login (`age` seconds ago) reached `level`."""
    now = ctx.clock.now()
    session_id = ctx.random.hex_id()
    session = SsoSession(
        id=session_id,
        user_id=user.id,
        sso_group="one_telenor",
        auth_time=now - timedelta(seconds=age),
        acr=acr_for_level(level),
        amr=(),
        idp="local",
        persistent=False,
        lifetime_seconds=3600,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=1),
    )
    with ctx.store.transaction() as uow:
        uow.sessions.insert(session, handle_hash=ctx.random.hex_id())
    return session_id


def register(
    ctx: AppContext,
    user: User,
    authenticator: SoftwareAuthenticator,
    *,
    name: str = "My phone",
    **create: Any,
) -> Passkey:
    """Options, `navigator.credentials.create()`, verify: a new passkey."""
    session_id = fresh_session(ctx, user)
    options = registration_options(ctx, user, session_id)
    credential = authenticator.create(options, **create)
    return register_passkey(ctx, user, session_id, credential, name)


def start_login(ctx: AppContext) -> str:
    """A login in progress for the client `web`: the HMAC its interaction is stored under."""
    with ctx.store.reading() as uow:
        known = uow.clients.find("web") is not None
    if not known:
        add_web_client(ctx)
    handle = Browser(ctx).authorize()
    return hash_handle(ctx.secrets.handle_key, handle)


def log_in(
    ctx: AppContext,
    authenticator: SoftwareAuthenticator,
    *,
    user: User | None = None,
    **get: Any,
) -> VerifiedPasskey:
    """Options for a new login, `navigator.credentials.get()`, verify."""
    login = start_login(ctx)
    options = login_options(ctx, interaction_id_hash=login, user=user)
    assertion = authenticator.get(options, **get)
    return verify_passkey_login(
        ctx, interaction_id_hash=login, expected_user=user, credential=assertion
    )
