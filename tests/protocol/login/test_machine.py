"""The login state machine: each stage offers only its page's actions, every page can cancel,
a finished or foreign login is gone, and a login ends with the right session and answer."""

from __future__ import annotations

from dataclasses import replace

import pytest

from idplus.auth.providers import LOCAL_PROVIDER, ProviderInfo, ProviderKind, ProviderRegistry
from idplus.crypto.hashing import PasswordHashSlots
from idplus.manage.providers import ProviderRegistration, add_provider
from idplus.protocol.context import AppContext
from idplus.protocol.interaction import Stage, start_internal_login
from idplus.protocol.login.machine import STAGES, Action
from idplus.protocol.login.results import Cancelled, Gone
from tests.protocol.login.driver import (
    PHONE,
    Browser,
    add_login_user,
    add_web_client,
    finished,
    in_parallel,
    problem,
    sent_codes,
    session_of,
    stage,
    wrong,
)

OTHER = "+4790000002"


@pytest.fixture
def ctx(context: AppContext) -> AppContext:
    add_web_client(context)
    add_login_user(context)
    add_login_user(context, OTHER, otp_required=True)
    return context


def _at_code_step(ctx: AppContext) -> tuple[Browser, str]:
    browser = Browser(ctx)
    handle = browser.authorize()
    assert stage(browser.log_in(handle, OTHER)) == Stage.OTP
    return browser, handle


@pytest.mark.parametrize(
    ("at_code_step", "action"),
    [(False, "verify"), (False, "continue"), (False, "bogus"), (True, "login"), (True, "switch")],
)
def test_an_action_the_page_does_not_offer_is_refused_and_changes_nothing(
    ctx: AppContext, at_code_step: bool, action: str
) -> None:
    """A stale form from an earlier step (or a forged one) is a problem on the current page."""
    if at_code_step:
        browser, handle = _at_code_step(ctx)
    else:
        browser = Browser(ctx)
        handle = browser.authorize()
    before = browser.page(handle)
    result = browser.act(handle, action, username=PHONE, password="x", otp="123456")
    assert problem(result) == "unknown_action"
    assert browser.page(handle) == before


def test_a_stale_password_form_at_the_code_step_spends_no_code_guess(ctx: AppContext) -> None:
    browser, handle = _at_code_step(ctx)
    code = sent_codes(ctx)[-1]
    browser.log_in(handle, OTHER)
    for _ in range(ctx.settings.otp_max_attempts - 1):
        assert problem(browser.act(handle, "verify", otp=wrong(code))) == "otp_invalid"
    finished(browser.act(handle, "verify", otp=code))


def test_an_empty_action_is_the_pages_first_button(ctx: AppContext) -> None:
    """What a browser sends on Enter, and a script that fills only the fields."""
    browser, handle = _at_code_step(ctx)
    finished(browser.act(handle, "", otp=sent_codes(ctx)[-1]))
    assert all(row.default in row.handlers for row in STAGES.values())


@pytest.mark.parametrize("at_code_step", [False, True])
def test_cancel_sends_access_denied_and_ends_the_login(ctx: AppContext, at_code_step: bool) -> None:
    if at_code_step:
        browser, handle = _at_code_step(ctx)
    else:
        browser = Browser(ctx)
        handle = browser.authorize()
    cancelled = browser.act(handle, "cancel")
    assert isinstance(cancelled, Cancelled)
    assert cancelled.response.params["error"] == "access_denied"
    assert cancelled.response.params["state"] == "st-1"
    assert isinstance(browser.log_in(handle), Gone)
    assert all(Action.CANCEL in STAGES[s].handlers for s in Stage)


def test_a_login_started_in_another_browser_is_gone(ctx: AppContext) -> None:
    handle = Browser(ctx).authorize()
    thief = Browser(ctx, id="browser-2")
    assert isinstance(thief.log_in(handle), Gone)
    assert isinstance(thief.act(handle, "cancel"), Gone)


def test_a_finished_login_cannot_be_finished_again(ctx: AppContext) -> None:
    browser = Browser(ctx)
    handle = browser.authorize()
    first = finished(browser.log_in(handle))
    assert first.response.redirect_uri == "https://rp.example/cb"
    assert "code" in first.response.params
    assert first.session_handle is not None
    assert isinstance(browser.log_in(handle), Gone)


def test_parallel_posts_of_the_right_password_end_the_login_once(ctx: AppContext) -> None:
    """The interaction is loaded once, before the slow hash: ending it is what must be atomic."""
    roomy = replace(ctx, hash_slots=PasswordHashSlots(8))
    browser = Browser(roomy)
    handle = browser.authorize()
    answers = in_parallel(4, lambda: type(browser.log_in(handle)).__name__)
    assert sorted(answers) == ["Gone", "Gone", "Gone", "LoginFinished"]


def test_each_login_gives_the_session_a_new_handle(ctx: AppContext) -> None:
    browser = Browser(ctx)
    first = finished(browser.log_in(browser.authorize()))
    again = finished(browser.log_in(browser.authorize(prompt="login")))
    assert again.session.id == first.session.id
    assert again.session_handle not in (None, first.session_handle)


def test_continue_keeps_the_session_and_its_handle(ctx: AppContext) -> None:
    browser = Browser(ctx)
    first = finished(browser.log_in(browser.authorize()))
    handle = browser.authorize()
    assert browser.page(handle).stage is Stage.CONTINUE
    assert browser.page(handle).username == PHONE
    continued = finished(browser.act(handle, "continue"))
    assert continued.session.id == first.session.id
    assert continued.session_handle is None
    assert "code" in continued.response.params


def test_switch_user_logs_in_afresh_and_replaces_the_session(ctx: AppContext) -> None:
    browser = Browser(ctx)
    first = finished(browser.log_in(browser.authorize()))
    handle = browser.authorize()
    assert stage(browser.act(handle, "switch")) == Stage.LOGIN
    assert browser.page(handle).user_name == ""
    browser.log_in(handle, OTHER)
    second = finished(browser.act(handle, "verify", otp=sent_codes(ctx)[-1]))
    assert second.session.id != first.session.id
    assert session_of(ctx, first).ended_at is not None


def test_a_login_for_an_own_page_returns_to_it_without_a_code(ctx: AppContext) -> None:
    client = ctx.clients.find("web")
    assert client is not None
    browser = Browser(ctx)
    handle = start_internal_login(
        ctx, client, return_to="/account", browser_id=browser.id, locale="en", session=None
    )
    done = finished(browser.log_in(handle))
    assert done.response.redirect_uri == ctx.settings.issuer + "/account"
    assert done.response.params == {}
    assert done.session_handle is not None


@pytest.fixture
def two_providers(context: AppContext) -> AppContext:
    # A second provider of the password kind stands in for the upstream ones of a later issue.
    staff = ProviderInfo("staff", {"en": "Staff login"}, ProviderKind.PASSWORD)
    ctx = replace(context, providers=ProviderRegistry([LOCAL_PROVIDER, staff]))
    staff_registration = ProviderRegistration("staff", "https://staff.example", "idplus")
    add_provider(ctx.store, ctx.settings, ctx.clock, staff_registration)
    add_web_client(ctx, providers=["local", "staff"])
    add_login_user(ctx)
    return ctx


def test_the_chosen_provider_logs_the_user_in(two_providers: AppContext) -> None:
    browser = Browser(two_providers)
    handle = browser.authorize()
    page = browser.page(handle)
    assert page.stage is Stage.SELECT_PROVIDER
    assert [p.id for p in page.providers] == ["local", "staff"]
    assert problem(browser.act(handle, provider="nope")) == "unknown_provider"
    assert stage(browser.act(handle, provider="staff")) == Stage.LOGIN
    assert session_of(two_providers, browser.log_in(handle)).idp == "staff"


def test_switch_user_with_several_providers_offers_the_choice_again(
    two_providers: AppContext,
) -> None:
    browser = Browser(two_providers)
    handle = browser.authorize()
    browser.act(handle, provider="local")
    finished(browser.log_in(handle))
    handle = browser.authorize()
    assert stage(browser.act(handle, "switch")) == Stage.SELECT_PROVIDER
