"""The SMS code's limits against guessing and SMS pumping, on both backends.

Each test is named after the attack it stops; the parallel one reproduces a race a hostile
review found on PostgreSQL (16–18 tries on one code instead of 5).
"""

from __future__ import annotations

import hmac
import json
from dataclasses import replace
from datetime import timedelta

import pytest

from idplus.clock import FrozenClock
from idplus.manage.clients import ClientRegistration, add_client
from idplus.protocol.context import AppContext
from idplus.protocol.interaction import Stage
from idplus.protocol.login.results import Problem, StepResult
from tests.protocol.login.driver import (
    CALLBACK,
    Browser,
    add_login_user,
    add_web_client,
    finished,
    in_parallel,
    problem,
    sent_codes,
    stage,
    wrong,
)


@pytest.fixture
def ctx(context: AppContext) -> AppContext:
    add_web_client(context)
    add_login_user(context, otp_required=True)
    return context


def _clock(ctx: AppContext) -> FrozenClock:
    assert isinstance(ctx.clock, FrozenClock)
    return ctx.clock


def _at_code_step(ctx: AppContext) -> tuple[Browser, str]:
    browser = Browser(ctx)
    handle = browser.authorize()
    assert stage(browser.log_in(handle)) == Stage.OTP
    return browser, handle


def _answer(result: StepResult) -> str:
    """The problem's reason, or the stage the login moved to."""
    return problem(result) if isinstance(result, Problem) else stage(result)


def test_resending_does_not_reset_the_wrong_code_count(ctx: AppContext) -> None:
    """Main reset the count on every resend: 30 resends gave 150 guesses."""
    browser, handle = _at_code_step(ctx)
    for _ in range(3):
        assert problem(browser.act(handle, "verify", otp=wrong(sent_codes(ctx)[-1]))) == (
            "otp_invalid"
        )
        _clock(ctx).advance(timedelta(seconds=31))
        assert stage(browser.act(handle, "resend")) == Stage.OTP
    code = sent_codes(ctx)[-1]
    assert problem(browser.act(handle, "verify", otp=wrong(code))) == "otp_invalid"
    assert problem(browser.act(handle, "verify", otp=wrong(code))) == "otp_invalid"
    # Five wrong guesses in all: even the right code is refused now.
    assert problem(browser.act(handle, "verify", otp=code)) == "otp_too_many"


def test_a_login_sends_at_most_four_codes_thirty_seconds_apart(ctx: AppContext) -> None:
    browser, handle = _at_code_step(ctx)
    assert _answer(browser.act(handle, "resend")) == "otp_resend_wait"
    for _ in range(3):
        _clock(ctx).advance(timedelta(seconds=30))
        assert _answer(browser.act(handle, "resend")) == Stage.OTP
    _clock(ctx).advance(timedelta(seconds=30))
    assert _answer(browser.act(handle, "resend")) == "otp_resend_limit"
    assert len(sent_codes(ctx)) == 4


def test_an_expired_code_costs_no_guess(ctx: AppContext) -> None:
    browser, handle = _at_code_step(ctx)
    code = sent_codes(ctx)[-1]
    _clock(ctx).advance(timedelta(minutes=5, seconds=1))
    for _ in range(ctx.settings.otp_max_attempts):
        assert problem(browser.act(handle, "verify", otp=code)) == "otp_expired"
    browser.act(handle, "resend")
    finished(browser.act(handle, "verify", otp=sent_codes(ctx)[-1]))


def test_sms_pumping_to_one_number_stops_after_ten_codes_an_hour(ctx: AppContext) -> None:
    """Toll fraud: new logins for the same phone number each sent a fresh SMS on main."""
    browser = Browser(ctx)
    for _ in range(10):
        assert stage(browser.log_in(browser.authorize())) == Stage.OTP
    refused = browser.authorize()
    assert problem(browser.log_in(refused)) == "sms_limit"
    assert browser.page(refused).stage is Stage.LOGIN
    assert len(sent_codes(ctx)) == 10
    _clock(ctx).advance(timedelta(hours=1))
    assert stage(browser.log_in(browser.authorize())) == Stage.OTP


def test_parallel_code_guesses_get_five_tries_in_all(ctx: AppContext) -> None:
    browser, handle = _at_code_step(ctx)
    guess = wrong(sent_codes(ctx)[-1])
    answers = in_parallel(20, lambda: problem(browser.act(handle, "verify", otp=guess)))
    assert answers.count("otp_invalid") == 5
    assert answers.count("otp_too_many") == 15


def test_the_code_is_compared_in_constant_time(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`==` on the code's hash leaks, through timing, how much of a guess matched."""
    compared: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    # The module `sms_code` compares with: `hmac.compare_digest`, looked up at each call.
    monkeypatch.setattr(hmac, "compare_digest", spy)
    browser, handle = _at_code_step(ctx)
    finished(browser.act(handle, "verify", otp=sent_codes(ctx)[-1]))
    assert len(compared) == 1


def test_the_code_sms_names_the_app_and_is_bound_to_the_https_issuer(ctx: AppContext) -> None:
    """A phone offers the code on the issuer's own pages only (WebOTP), and the user sees
    which app asked for it."""
    https = replace(ctx, settings=ctx.settings.model_copy(update={"issuer": "https://id.example"}))
    registration = ClientRegistration(
        "tv", "Public", name="Telenor TV", redirect_uris=[CALLBACK], scopes=["openid"]
    )
    add_client(ctx.store, ctx.clock, registration)
    browser = Browser(https)
    assert stage(browser.log_in(browser.authorize("tv"))) == Stage.OTP
    sms = json.loads(ctx.settings.outbox.read_text().splitlines()[-1])
    assert sms["body"] == (
        f"{sms['code']} is your code for Telenor TV. It is valid for 5 minutes.\n\n"
        f"@id.example #{sms['code']}"
    )


def test_the_code_sms_of_an_http_issuer_and_an_unnamed_app(ctx: AppContext) -> None:
    _at_code_step(ctx)  # the client "web" has no name of its own
    sms = json.loads(ctx.settings.outbox.read_text().splitlines()[-1])
    assert sms["body"] == f"{sms['code']} is your one-time code. It is valid for 5 minutes."
