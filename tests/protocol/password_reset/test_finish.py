"""Setting the new password: once per reset, and all of it or nothing."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from idplus.auth.sender import Message
from idplus.crypto.hashing import HashingBusy, PasswordHashSlots
from idplus.protocol.context import AppContext
from idplus.protocol.password_check import check_password
from idplus.protocol.password_reset.code import verify_code
from idplus.protocol.password_reset.finish import PasswordChanged, set_new_password
from idplus.protocol.password_reset.state import ResetGone
from tests.protocol.login.driver import Browser, add_web_client, finished, in_parallel, session_of
from tests.protocol.password_reset.driver import (
    NEW_PASSWORD,
    PASSWORD,
    PHONE,
    ResetBrowser,
    add_reset_user,
    last_code,
)


def _ready(ctx: AppContext) -> tuple[ResetBrowser, str]:
    browser = ResetBrowser(ctx)
    handle = browser.start()
    verify_code(ctx, browser.view(handle), last_code(ctx))
    return browser, handle


def test_one_reset_sets_one_password(context: AppContext) -> None:
    ctx = replace(context, hash_slots=PasswordHashSlots(4))
    add_reset_user(ctx)
    browser, handle = _ready(ctx)
    view = browser.view(handle)

    def attempt() -> str:
        password = f"{NEW_PASSWORD} {threading.get_ident()}"
        try:
            set_new_password(ctx, view, password)
        except ResetGone:
            return "gone"
        return password

    answers = in_parallel(3, attempt)
    (winner,) = [a for a in answers if a != "gone"]
    assert check_password(context, PHONE, winner, None).username == PHONE
    with pytest.raises(ResetGone):
        browser.view(handle)


class FailingSender:
    def send(self, message: Message) -> None:
        raise OSError("the SMS gateway is down")


def test_a_reset_the_owner_cannot_be_told_of_changes_nothing(context: AppContext) -> None:
    add_web_client(context)
    add_reset_user(context)
    login = Browser(context)
    session = session_of(context, finished(login.log_in(login.authorize())))
    browser, handle = _ready(context)
    silent = replace(context, sender=FailingSender())
    with pytest.raises(OSError, match="gateway"):
        set_new_password(silent, browser.view(handle), NEW_PASSWORD)
    assert check_password(context, PHONE, PASSWORD, None).username == PHONE
    with context.store.reading() as uow:
        alive = uow.sessions.find(session.id)
    assert alive is not None and alive.ended_at is None
    changed = set_new_password(context, browser.view(handle), NEW_PASSWORD)
    assert isinstance(changed, PasswordChanged)
    assert [e.session.id for e in changed.ended] == [session.id]


def test_a_reset_shed_for_want_of_a_hashing_slot_can_be_retried(context: AppContext) -> None:
    ctx = replace(context, hash_slots=PasswordHashSlots(1))
    add_reset_user(ctx)
    browser, handle = _ready(ctx)
    with ctx.hash_slots.slot(), pytest.raises(HashingBusy):
        set_new_password(ctx, browser.view(handle), NEW_PASSWORD)
    set_new_password(ctx, browser.view(handle), NEW_PASSWORD)
    assert check_password(ctx, PHONE, NEW_PASSWORD, None).username == PHONE


def test_a_reset_is_recorded_once_with_no_password_or_code(context: AppContext) -> None:
    add_reset_user(context)
    browser, handle = _ready(context)
    code = last_code(context)
    silent = replace(context, sender=FailingSender())
    with pytest.raises(OSError, match="gateway"):
        set_new_password(silent, browser.view(handle), NEW_PASSWORD)  # rolled back: no event
    set_new_password(context, browser.view(handle), NEW_PASSWORD)
    with context.store.reading() as uow:
        user = uow.users.find_by_username(PHONE)
        (event,) = uow.audit.list_events(events=("user.password_reset",))
        written = repr(uow.audit.list_events())
    assert user is not None
    assert (event.client_id, event.user_id, event.detail) == (None, user.id, {})
    for secret in (PASSWORD, NEW_PASSWORD, code, PHONE, PHONE.removeprefix("+")):
        assert secret not in written, secret
