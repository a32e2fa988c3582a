"""A session's user who must authenticate again (prompt=login, step-up) is named on the page,
and "Not you?" (the `switch` action) lets anyone log in instead."""

from __future__ import annotations

import pytest

from idplus.manage.users import UserRegistration, add_user
from idplus.protocol.context import AppContext
from idplus.protocol.interaction import Stage
from tests.protocol.login.driver import (
    PASSWORD,
    PHONE,
    Browser,
    add_login_user,
    add_web_client,
    finished,
    sent_codes,
    session_of,
    stage,
)

OTHER = "+4790000002"


@pytest.fixture
def ctx(context: AppContext) -> AppContext:
    add_web_client(context)
    add_login_user(context)
    add_login_user(context, OTHER)
    return context


def test_prompt_login_names_the_sessions_user_and_not_you_forgets_them(ctx: AppContext) -> None:
    browser = Browser(ctx)
    first = finished(browser.log_in(browser.authorize()))
    handle = browser.authorize(prompt="login")
    page = browser.page(handle)
    assert (page.stage, page.username) == (Stage.LOGIN, PHONE)
    assert stage(browser.act(handle, "switch")) == Stage.LOGIN
    assert (browser.page(handle).user_name, browser.page(handle).username) == ("", "")
    second = finished(browser.log_in(handle, OTHER))
    assert session_of(ctx, first).ended_at is not None
    assert second.session.user_id != first.session.user_id


def test_the_same_user_logging_in_again_keeps_the_session(ctx: AppContext) -> None:
    browser = Browser(ctx)
    first = finished(browser.log_in(browser.authorize()))
    again = finished(browser.log_in(browser.authorize(prompt="login")))
    assert again.session.id == first.session.id


def test_not_you_at_a_step_up_logs_in_afresh(ctx: AppContext) -> None:
    browser = Browser(ctx)
    finished(browser.log_in(browser.authorize()))
    handle = browser.authorize(acr_values="urn:telenor.identity.aal.2")
    assert browser.page(handle).stage is Stage.STEP_UP
    assert stage(browser.act(handle, "switch")) == Stage.LOGIN
    assert browser.page(handle).user_name == ""
    assert stage(browser.log_in(handle, OTHER)) == Stage.OTP
    assert finished(browser.act(handle, "verify", otp=sent_codes(ctx)[-1]))


@pytest.mark.parametrize(
    ("username", "names", "shown"),
    [
        ("+4790000003", {"given_name": "Kari", "family_name": "Nordmann"}, "Kari Nordmann"),
        ("+4790000003", {"given_name": " Kari "}, "Kari"),
        ("+4790000003", {}, "+47 ••• •• 003"),
        ("kari@example.com", {"phone_number": "+4790000003"}, "+47 ••• •• 003"),
        ("kari@example.com", {}, "k•••@example.com"),
    ],
)
def test_the_user_is_named_by_name_else_masked_and_the_username_only_fills_the_field(
    ctx: AppContext, username: str, names: dict[str, str], shown: str
) -> None:
    add_user(ctx.store, ctx.clock, UserRegistration(username, PASSWORD, **names))
    browser = Browser(ctx)
    finished(browser.log_in(browser.authorize(), username))
    page = browser.page(browser.authorize(prompt="login"))
    assert (page.user_name, page.username) == (shown, username)
