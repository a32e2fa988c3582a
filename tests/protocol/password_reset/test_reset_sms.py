"""What a reset's messages promise holds: the code SMS names the app the reset started from (the
first code and every new one), and the lifetimes they state are the ones enforced."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from idplus.manage.clients import ClientRegistration, add_client
from idplus.protocol.context import AppContext
from idplus.protocol.password_reset.code import resend_code, verify_code
from idplus.protocol.password_reset.email_link import LinkState, check_link
from idplus.protocol.password_reset.start import start_reset
from idplus.protocol.password_reset.state import ResetProblem, ResetProblemReason
from tests.protocol.login.driver import CALLBACK, Browser
from tests.protocol.password_reset.driver import (
    BROWSER,
    PHONE,
    ResetBrowser,
    add_reset_user,
    last_code,
    last_link_token,
    messages,
)


def _sms_bodies(ctx: AppContext) -> list[str]:
    return [m["body"] for m in messages(ctx) if m["channel"] == "sms"]


def _reset_from_login_at_telenor_tv(ctx: AppContext, ui_locales: str) -> str:
    registration = ClientRegistration("tv", "Public", name="Telenor TV", redirect_uris=[CALLBACK])
    add_client(ctx.store, ctx.clock, registration)
    login = Browser(ctx).authorize("tv", ui_locales=ui_locales)
    started = start_reset(
        ctx, username=PHONE, browser_id=BROWSER, address="10.0.0.1", locale="en", interaction=login
    )
    return started.handle


@pytest.mark.parametrize(
    ("ui_locales", "first_line"),
    [
        ("en", "is your code to reset your password for Telenor TV. It is valid for 5 minutes."),
        ("no", "er koden for å tilbakestille passordet ditt til Telenor TV. Den gjelder i 5 "),
    ],
)
def test_a_reset_from_a_login_names_its_app_in_every_code_sms(
    context: AppContext, ui_locales: str, first_line: str
) -> None:
    add_reset_user(context)
    handle = _reset_from_login_at_telenor_tv(context, ui_locales)
    context.clock.advance(timedelta(seconds=context.settings.otp_resend_interval_seconds + 1))
    resend_code(context, ResetBrowser(context).view(handle))
    first, second = _sms_bodies(context)
    assert first_line in first
    assert first_line in second


def test_a_reset_from_nowhere_names_no_app(context: AppContext) -> None:
    add_reset_user(context)
    ResetBrowser(context).start()
    (body,) = _sms_bodies(context)
    assert re.match(r"\d{6} is your code to reset your password\. It is valid for", body)


def test_the_code_expires_when_its_sms_says(context: AppContext) -> None:
    add_reset_user(context)
    browser = ResetBrowser(context)
    handle = browser.start()
    minutes = re.search(r"valid for (\d+) minutes", _sms_bodies(context)[0])
    assert minutes is not None
    context.clock.advance(timedelta(minutes=int(minutes.group(1)), seconds=1))
    with pytest.raises(ResetProblem) as expired:
        verify_code(context, browser.view(handle), last_code(context))
    assert expired.value.reason is ResetProblemReason.CODE_EXPIRED


def test_the_email_link_expires_when_its_email_says(context: AppContext) -> None:
    add_reset_user(context, otp_required=True)
    browser = ResetBrowser(context)
    handle = browser.start()
    verify_code(context, browser.view(handle), last_code(context))
    (email,) = [m["body"] for m in messages(context) if m["channel"] == "email"]
    minutes = re.search(r"valid for (\d+) minutes", email)
    assert minutes is not None
    token = last_link_token(context)
    context.clock.advance(timedelta(minutes=int(minutes.group(1))) - timedelta(seconds=1))
    assert check_link(context, token, BROWSER).state is LinkState.USABLE
    context.clock.advance(timedelta(seconds=2))
    assert check_link(context, token, BROWSER).state is LinkState.GONE
