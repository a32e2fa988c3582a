"""The reset's SMS code: guesses are counted atomically, a right code moves the reset on, and
nobody's reset never gets past it."""

from __future__ import annotations

import pytest

from idplus.protocol.context import AppContext
from idplus.protocol.password_reset.code import verify_code
from idplus.protocol.password_reset.state import ResetProblem, ResetProblemReason, ResetStage
from tests.protocol.login.driver import in_parallel, wrong
from tests.protocol.password_reset.driver import ResetBrowser, add_reset_user, last_code, messages


def _guess(ctx: AppContext, browser: ResetBrowser, handle: str, code: str) -> str:
    try:
        verify_code(ctx, browser.view(handle), code)
    except ResetProblem as problem:
        return problem.reason.value
    return "right"


def test_parallel_wrong_guesses_are_counted_before_they_are_compared(context: AppContext) -> None:
    add_reset_user(context)
    browser = ResetBrowser(context)
    handle = browser.start()
    code = last_code(context)
    limit = context.settings.otp_max_attempts
    answers = in_parallel(limit + 3, lambda: _guess(context, browser, handle, wrong(code)))
    assert sorted(answers) == sorted(["code_invalid"] * limit + ["code_too_many"] * 3)
    assert _guess(context, browser, handle, code) == "code_too_many"
    assert browser.view(handle).stage is ResetStage.CODE


def test_a_right_code_moves_a_one_factor_reset_to_the_new_password(context: AppContext) -> None:
    add_reset_user(context)
    browser = ResetBrowser(context)
    handle = browser.start()
    assert _guess(context, browser, handle, f" {last_code(context)} ") == "right"
    assert browser.view(handle).stage is ResetStage.NEW_PASSWORD


def test_a_right_code_sends_a_two_factor_account_one_email_link(context: AppContext) -> None:
    add_reset_user(context, otp_required=True)
    browser = ResetBrowser(context)
    handle = browser.start()
    code = last_code(context)
    answers = in_parallel(3, lambda: _guess(context, browser, handle, code))
    assert "right" in answers
    assert browser.view(handle).stage is ResetStage.EMAIL
    assert [m["to"] for m in messages(context) if m["channel"] == "email"] == ["kari@example.com"]


def test_nobodys_reset_sends_nothing_and_never_gets_past_the_code(context: AppContext) -> None:
    browser = ResetBrowser(context)
    handle = browser.start("+4791234567")
    assert messages(context) == []
    assert browser.view(handle).user is None
    with pytest.raises(ResetProblem) as refused:
        verify_code(context, browser.view(handle), "123456")
    assert refused.value.reason is ResetProblemReason.CODE_INVALID
    assert browser.view(handle).reset.code_attempts == 1
