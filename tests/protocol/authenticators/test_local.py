"""The local authenticator: password, then the SMS code when the user must always give one or
the request asks for level 2 (SPEC §6); a step-up asks for the code alone. amr and acr say
which factors the login had."""

from __future__ import annotations

from dataclasses import replace

import pytest

from idplus.crypto.hashing import PasswordHashSlots
from idplus.protocol.assurance import AMR_PASSWORD, AMR_SMS_OTP
from idplus.protocol.context import AppContext
from idplus.protocol.interaction import Stage
from idplus.protocol.login.results import Busy
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
)

CODE_USER = "+4790000002"
AAL2 = "urn:telenor.identity.aal.2"


@pytest.fixture
def ctx(context: AppContext) -> AppContext:
    add_web_client(context, silent_sso=True)
    add_login_user(context)
    add_login_user(context, CODE_USER, otp_required=True)
    return context


def test_a_password_alone_gives_level_one(ctx: AppContext) -> None:
    browser = Browser(ctx)
    session = session_of(ctx, browser.log_in(browser.authorize()))
    assert session.amr == (AMR_PASSWORD,)
    assert session.acr == "urn:telenor.identity.aal.1"
    assert sent_codes(ctx) == []


def test_a_user_who_must_give_a_code_gets_the_code_step_and_level_two(ctx: AppContext) -> None:
    browser = Browser(ctx)
    handle = browser.authorize()
    assert stage(browser.log_in(handle, CODE_USER)) == Stage.OTP
    assert browser.page(handle).masked_phone == "+47 ••• •• 002"
    session = session_of(ctx, browser.act(handle, "verify", otp=sent_codes(ctx)[-1]))
    assert session.amr == (AMR_PASSWORD, AMR_SMS_OTP)
    assert session.acr == AAL2


def test_a_request_for_level_two_asks_every_user_for_the_code(ctx: AppContext) -> None:
    browser = Browser(ctx)
    handle = browser.authorize(acr_values=AAL2)
    assert stage(browser.log_in(handle)) == Stage.OTP
    assert session_of(ctx, browser.act(handle, "verify", otp=sent_codes(ctx)[-1])).acr == AAL2


def test_remember_me_on_the_password_page_survives_the_code_step(ctx: AppContext) -> None:
    browser = Browser(ctx)
    handle = browser.authorize()
    browser.log_in(handle, CODE_USER, remember_me="on")
    assert session_of(ctx, browser.act(handle, "verify", otp=sent_codes(ctx)[-1])).persistent


def test_step_up_asks_only_for_the_code_and_raises_the_same_session(ctx: AppContext) -> None:
    browser = Browser(ctx)
    first = finished(browser.log_in(browser.authorize()))
    handle = browser.authorize(acr_values=AAL2)
    assert browser.page(handle).stage is Stage.STEP_UP
    assert stage(browser.act(handle, "send")) == Stage.OTP
    raised = finished(browser.act(handle, "verify", otp=sent_codes(ctx)[-1]))
    assert raised.session.id == first.session.id
    assert raised.session_handle not in (None, first.session_handle)
    assert session_of(ctx, raised).acr == AAL2
    assert session_of(ctx, raised).amr == (AMR_PASSWORD, AMR_SMS_OTP)


def test_a_user_without_a_phone_number_cannot_reach_level_two(ctx: AppContext) -> None:
    add_login_user(ctx, "kari@example.no")
    browser = Browser(ctx)
    handle = browser.authorize(acr_values=AAL2)
    assert problem(browser.log_in(handle, "kari@example.no")) == "no_phone"
    assert browser.page(handle).stage is Stage.LOGIN


def test_a_wrong_password_and_an_unknown_user_are_the_same_problem(ctx: AppContext) -> None:
    browser = Browser(ctx)
    handle = browser.authorize()
    wrong = browser.act(handle, "login", username=PHONE, password="not the password")
    unknown = browser.act(handle, "login", username="+4799999999", password="whatever")
    assert problem(wrong) == problem(unknown) == "invalid_credentials"


def test_parallel_wrong_passwords_are_hashed_at_most_five_times(ctx: AppContext) -> None:
    """On main, 40 parallel wrong passwords for one user were checked 20 (SQLite) and
    60 were checked 37 (PostgreSQL) times against a limit of 5."""
    roomy = replace(ctx, hash_slots=PasswordHashSlots(64))
    browser = Browser(roomy)
    handle = browser.authorize()
    answers = in_parallel(
        40, lambda: problem(browser.act(handle, "login", username=PHONE, password="wrong"))
    )
    assert answers.count("invalid_credentials") == 5
    assert answers.count("locked") == 35


def test_logins_beyond_the_hashing_slots_are_shed_before_they_cost(ctx: AppContext) -> None:
    """80 concurrent made-up logins took a worker to 2.4 GiB on main; now each over the bound
    is refused at once, spending neither a hash nor an attempt."""
    one_slot = replace(ctx, hash_slots=PasswordHashSlots(1))
    browser = Browser(one_slot)
    handle = browser.authorize()
    with one_slot.hash_slots.slot():
        shed = browser.act(handle, "login", username=PHONE, password="wrong")
    assert isinstance(shed, Busy)
    for _ in range(4):
        wrong = browser.act(handle, "login", username=PHONE, password="wrong")
        assert problem(wrong) == "invalid_credentials"
    finished(browser.log_in(handle))
