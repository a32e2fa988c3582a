"""The security review of forgotten passwords, as an attacker would try it (both backends):
codes guessed across many resets, a reset that outlives the password it was for, a login
handle in the database, and the database work that told known names from unknown ones."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from idplus.manage.users import UserRegistration, add_user, set_password
from idplus.models import Client, GatewayToken, User
from idplus.policies import ClientType
from idplus.protocol.context import AppContext
from idplus.protocol.password_reset.code import resend_code, verify_code
from idplus.protocol.password_reset.finish import set_new_password
from idplus.protocol.password_reset.start import start_reset
from idplus.protocol.password_reset.state import ResetGone, ResetProblem, ResetStage
from idplus.protocol.self_service import change_password
from idplus.randomness import SystemRandomness
from idplus.store.sql.engine import Database
from tests.protocol.login.driver import Browser, add_web_client, in_parallel
from tests.protocol.password_reset.driver import (
    BROWSER,
    NEW_PASSWORD,
    PASSWORD,
    PHONE,
    ResetBrowser,
    add_reset_user,
    last_code,
    messages,
)

NOBODY = "+4791234567"
OLA = "+4790000002"


def _guess(ctx: AppContext, browser: ResetBrowser, handle: str, code: str) -> str:
    try:
        verify_code(ctx, browser.view(handle), code)
    except ResetProblem as problem:
        return problem.reason.value
    return "right"


def _guesses_across_resets(ctx: AppContext, name: str, count: int) -> list[str]:
    """`count` wrong guesses, a new reset each time a reset's own limit is reached."""
    browser, answers = ResetBrowser(ctx), list[str]()
    while len(answers) < count:
        handle = browser.start(name)
        for _ in range(min(ctx.settings.otp_max_attempts, count - len(answers))):
            answers.append(_guess(ctx, browser, handle, "999999"))
        ctx.clock.advance(timedelta(minutes=15))  # past the limit on starting resets
    return answers


@pytest.mark.parametrize("name", [PHONE, NOBODY])
def test_wrong_codes_are_bounded_per_name_across_resets(context: AppContext, name: str) -> None:
    add_reset_user(context)
    budget = context.settings.password_reset_code_failures_per_day
    answers = _guesses_across_resets(context, name, budget + 3)
    assert answers == ["code_invalid"] * budget + ["codes_spent"] * 3
    browser = ResetBrowser(context)
    handle = browser.start(name)
    # Even the right code: the budget is spent before any comparison.
    assert _guess(context, browser, handle, _code_for(context, name)) == "codes_spent"
    context.clock.advance(timedelta(days=1))
    handle = browser.start(name)
    expected = "right" if name == PHONE else "code_invalid"
    assert _guess(context, browser, handle, _code_for(context, name)) == expected


def _code_for(ctx: AppContext, name: str) -> str:
    """The code a reset for `name` was sent; a made-up one for a name of nobody."""
    return last_code(ctx) if name == PHONE else "123456"


def test_parallel_guesses_on_many_resets_never_exceed_the_names_budget(
    context: AppContext,
) -> None:
    add_reset_user(context)
    budget = context.settings.password_reset_code_failures_per_day
    browser = ResetBrowser(context)
    resets = [browser.start() for _ in range(3)]  # 3 × 5 guesses: more than the budget
    per_reset = context.settings.otp_max_attempts
    guesses = iter([handle for handle in resets for _ in range(per_reset)])
    answers = in_parallel(
        len(resets) * per_reset, lambda: _guess(context, browser, next(guesses), "999999")
    )
    spent = len(resets) * per_reset - budget
    assert sorted(answers) == ["code_invalid"] * budget + ["codes_spent"] * spent


def test_the_owners_right_code_gives_its_guess_back(context: AppContext) -> None:
    add_reset_user(context)
    budget = context.settings.password_reset_code_failures_per_day
    browser = ResetBrowser(context)
    handle = browser.start()
    assert [_guess(context, browser, handle, "999999") for _ in range(3)] == ["code_invalid"] * 3
    assert _guess(context, browser, handle, last_code(context)) == "right"
    assert _guesses_across_resets(context, PHONE, budget - 3) == ["code_invalid"] * (budget - 3)
    assert _guesses_across_resets(context, PHONE, 1) == ["codes_spent"]


class SameCode(SystemRandomness):
    """Every one-time code is the same: a test knows what a reset holds without its SMS."""

    def digits(self, count: int) -> str:
        return "4" * count


@pytest.fixture
def one_sms_an_hour(context: AppContext) -> AppContext:
    settings = context.settings.model_copy(update={"login_sms_per_phone_per_hour": 1})
    return replace(context, settings=settings, random=SameCode())


def test_a_reset_whose_sms_was_not_sent_holds_no_code(one_sms_an_hour: AppContext) -> None:
    ctx = one_sms_an_hour
    add_reset_user(ctx)
    browser = ResetBrowser(ctx)
    first = browser.start()
    second = browser.start()  # the phone's budget is spent: no SMS
    assert [m["code"] for m in messages(ctx)] == ["444444"]
    assert _guess(ctx, browser, second, "444444") == "code_invalid"
    # A new code the budget does not allow replaces the first one by none.
    ctx.clock.advance(timedelta(seconds=ctx.settings.otp_resend_interval_seconds))
    resend_code(ctx, browser.view(first))
    assert len(messages(ctx)) == 1
    assert _guess(ctx, browser, first, "444444") == "code_invalid"
    ctx.clock.advance(timedelta(hours=1))
    assert _guess(ctx, browser, browser.start(), "444444") == "right"


def _passed_the_sms_check(ctx: AppContext, browser: ResetBrowser) -> str:
    handle = browser.start()
    verify_code(ctx, browser.view(handle), last_code(ctx))
    assert browser.view(handle).stage is ResetStage.NEW_PASSWORD
    return handle


def _user(ctx: AppContext, username: str = PHONE) -> User:
    with ctx.store.reading() as uow:
        user = uow.users.find_by_username(username)
    assert user is not None
    return user


def _by_another_reset(ctx: AppContext) -> None:
    browser = ResetBrowser(ctx, "browser-2")
    set_new_password(ctx, browser.view(_passed_the_sms_check(ctx, browser)), NEW_PASSWORD)


def _on_the_account_page(ctx: AppContext) -> None:
    change_password(ctx, _user(ctx), PASSWORD, NEW_PASSWORD, "no-session", None)


def _gateway_token(ctx: AppContext, token_hash: str, user_id: str) -> None:
    now = ctx.clock.now()
    token = GatewayToken(token_hash, "refresh", "portal", user_id, (), now, now + timedelta(days=1))
    with ctx.store.transaction() as uow:
        if uow.clients.find("portal") is None:
            uow.clients.insert(Client("portal", "Portal", ClientType.CONFIDENTIAL), now)
        uow.gateway_tokens.insert(token)


def _by_customer_service(ctx: AppContext) -> None:
    """`idplus user set-password`: the way out for a two-factor user without an e-mail."""
    set_password(ctx.store, ctx.clock, PHONE, NEW_PASSWORD)


@pytest.mark.parametrize(
    "new_password", [_by_another_reset, _on_the_account_page, _by_customer_service]
)
def test_a_new_password_ends_every_reset_and_gateway_token_of_the_user(
    context: AppContext, new_password: Callable[[AppContext], None]
) -> None:
    add_reset_user(context)
    browser = ResetBrowser(context)
    passed = _passed_the_sms_check(context, browser)
    _gateway_token(context, "kari's", _user(context).id)
    add_user(context.store, context.clock, UserRegistration(OLA, PASSWORD))
    _gateway_token(context, "ola's", _user(context, OLA).id)

    new_password(context)

    with pytest.raises(ResetGone):
        browser.view(passed)
    with context.store.reading() as uow:
        kari, ola = uow.gateway_tokens.find("kari's"), uow.gateway_tokens.find("ola's")
    assert kari is not None and kari.revoked_at is not None
    assert ola is not None and ola.revoked_at is None


def test_the_database_never_holds_the_login_a_reset_came_from(
    context: AppContext, db: Database
) -> None:
    add_web_client(context)
    add_reset_user(context)
    login = Browser(context).authorize()
    started = start_reset(
        context, username=PHONE, browser_id=BROWSER, address=None, locale="en", interaction=login
    )
    with db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM password_resets")).mappings().all()
    assert rows and not [v for row in rows for v in row.values() if login in str(v)]
    assert started.login == login  # the browser keeps it


def _started_from_login(ctx: AppContext) -> tuple[ResetBrowser, str, str]:
    add_web_client(ctx)
    add_reset_user(ctx)
    login = Browser(ctx).authorize()
    started = start_reset(
        ctx, username=PHONE, browser_id=BROWSER, address=None, locale="en", interaction=login
    )
    browser = ResetBrowser(ctx)
    verify_code(ctx, browser.view(started.handle), last_code(ctx))
    return browser, started.handle, login


def test_the_browser_brings_back_the_login_a_reset_came_from(context: AppContext) -> None:
    browser, handle, login = _started_from_login(context)
    changed = set_new_password(context, browser.view(handle), NEW_PASSWORD, login=login)
    assert changed.interaction == login


@pytest.mark.parametrize("brought", ["", "another-login-handle"])
def test_without_its_own_login_handle_a_reset_goes_back_to_no_login(
    context: AppContext, brought: str
) -> None:
    browser, handle, _ = _started_from_login(context)
    changed = set_new_password(context, browser.view(handle), NEW_PASSWORD, login=brought)
    assert changed.interaction is None


@pytest.fixture
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL sent to the database, without its parameters."""
    sent: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        sent.append(re.sub(r"\s+", " ", statement))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    yield sent
    sa.event.remove(db.engine, "before_cursor_execute", record)


def _reset_steps(ctx: AppContext, name: str, browser_id: str) -> None:
    browser = ResetBrowser(ctx, browser_id)
    handle = browser.start(name)
    _guess(ctx, browser, handle, "999999")
    ctx.clock.advance(timedelta(seconds=ctx.settings.otp_resend_interval_seconds))
    resend_code(ctx, browser.view(handle))


def test_known_and_unknown_names_cost_the_database_the_same_work(
    context: AppContext, statements: list[str]
) -> None:
    add_reset_user(context)
    _reset_steps(context, NOBODY, "warm-up")  # key and secret rows that are written once
    statements.clear()
    _reset_steps(context, PHONE, "browser-1")
    known = list(statements)
    statements.clear()
    _reset_steps(context, "+4791234568", "browser-2")
    # What remains different: a user found reads its profiles, as at the password login.
    assert [s for s in known if "FROM user_profiles" not in s] == statements
    assert [m["to"] for m in messages(context)] == [PHONE, PHONE]


def test_a_name_with_a_control_character_is_no_name(context: AppContext) -> None:
    add_reset_user(context)
    for name in (f"{PHONE}\x00", "kari\x07@example.com"):
        with pytest.raises(ResetProblem) as refused:
            ResetBrowser(context).start(name)
        assert refused.value.reason.value == "no_username"
    assert messages(context) == []
