"""SSO sessions keep the browser that opened them: the User-Agent of the login, cleaned."""

from __future__ import annotations

from datetime import timedelta

import pytest

from idplus.models import Authentication
from idplus.protocol.context import AppContext
from idplus.protocol.sso import (
    USER_AGENT_MAX_LENGTH,
    SessionLifetime,
    SignedInSession,
    cleaned_user_agent,
    start_or_renew_session,
)
from tests.protocol.login.driver import add_login_user

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        (FIREFOX, FIREFOX),
        # A forged log line or a disguised name: control and bidi characters go.
        ("Firefox\r\nlevel=admin", "Firefoxlevel=admin"),
        ("Chrome\u202e swodniW", "Chrome swodniW"),
        ("\x00\x07 ", None),
        ("", None),
        (None, None),
    ],
)
def test_the_user_agent_is_kept_without_control_characters(
    header: str | None, kept: str | None
) -> None:
    assert cleaned_user_agent(header) == kept


def test_a_long_user_agent_is_cut_to_the_columns_width() -> None:
    kept = cleaned_user_agent("x" * 2000)
    assert kept is not None and len(kept) == USER_AGENT_MAX_LENGTH == 512


def _login(
    ctx: AppContext, user_agent: str | None, existing: SignedInSession | None = None
) -> SignedInSession:
    with ctx.store.reading() as uow:
        user = uow.users.find_by_username("+4790000001")
    assert user is not None
    now = ctx.clock.now()
    authentication = Authentication(
        user_id=user.id, auth_time=now, amr=("urn:telenor.identity.amr.td_pwd",),
        acr="urn:telenor.identity.aal.1", idp="local", upstream_subject=None,
    )  # fmt: skip
    with ctx.store.transaction() as uow:
        return start_or_renew_session(
            uow,
            handle_key=ctx.secrets.handle_key,
            group="one_telenor",
            authentication=authentication,
            lifetime=SessionLifetime(False, timedelta(hours=1)),
            existing=existing.session if existing is not None else None,
            now=now,
            random=ctx.random,
            user_agent=user_agent,
        )


def _stored_user_agent(ctx: AppContext, signed_in: SignedInSession) -> str | None:
    with ctx.store.reading() as uow:
        stored = uow.sessions.find(signed_in.session.id)
    assert stored is not None
    return stored.user_agent


def test_a_login_stores_its_user_agent_and_a_new_login_in_the_session_updates_it(
    context: AppContext,
) -> None:
    add_login_user(context)
    opened = _login(context, "Firefox/1\x00")
    assert opened.session.user_agent == "Firefox/1"
    assert _stored_user_agent(context, opened) == "Firefox/1"
    # The same browser logs in again (prompt=login) after an update: the newer name.
    context.clock.advance(timedelta(minutes=1))
    renewed = _login(context, FIREFOX, opened)
    assert renewed.session.id == opened.session.id
    assert renewed.session.user_agent == FIREFOX == _stored_user_agent(context, renewed)
    # A login that sent none keeps the name the session has.
    again = _login(context, None, renewed)
    assert again.session.user_agent == FIREFOX == _stored_user_agent(context, again)
