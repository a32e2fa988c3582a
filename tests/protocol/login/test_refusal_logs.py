"""What an operator paged at night reads: why a login step failed, at which app, and for whom
(a keyed hash of the typed name before the password is proved; never the name or a secret)."""

from __future__ import annotations

from structlog.testing import capture_logs

from idplus.protocol.context import AppContext
from tests.protocol.login.driver import (
    PASSWORD,
    PHONE,
    Browser,
    add_login_user,
    add_web_client,
    sent_codes,
    wrong,
)

OTHER = "+4790000002"


def _refusals(logs: list[dict[str, object]]) -> list[dict[str, object]]:
    return [entry for entry in logs if entry["event"] == "login_refused"]


def test_a_wrong_password_is_logged_with_its_reason_app_and_name_hash(context: AppContext) -> None:
    add_web_client(context)
    add_login_user(context)
    browser = Browser(context)
    with capture_logs() as logs:
        browser.act(browser.authorize(), "login", username=PHONE, password="wrong-password")
        browser.act(browser.authorize(), "login", username="92 00 00 01", password="wrong")

    first, second = _refusals(logs)
    assert first["reason"] == "invalid_credentials"
    assert first["stage"] == "login"
    assert first["client_id"] == "web"
    assert first["user_id"] is None
    # One name, one hash, whatever its spelling; the log holds no name and no password.
    assert isinstance(first["username_hash"], str) and len(first["username_hash"]) >= 32
    assert second["username_hash"] != first["username_hash"]
    text = repr(logs)
    assert PHONE not in text and "wrong-password" not in text and PASSWORD not in text


def test_the_same_name_spelt_two_ways_gives_the_same_hash(context: AppContext) -> None:
    add_web_client(context)
    browser = Browser(context)
    with capture_logs() as logs:
        browser.act(browser.authorize(), "login", username="+4790000001", password="x")
        browser.act(browser.authorize(), "login", username="900 00 001", password="x")
    first, second = _refusals(logs)
    assert first["username_hash"] == second["username_hash"]


def test_a_wrong_code_is_logged_for_the_user_it_was_sent_to(context: AppContext) -> None:
    add_web_client(context)
    add_login_user(context, OTHER, otp_required=True)
    browser = Browser(context)
    handle = browser.authorize()
    browser.log_in(handle, OTHER)
    (code,) = sent_codes(context)
    with capture_logs() as logs:
        browser.act(handle, "verify", otp=wrong(code))
    (refusal,) = _refusals(logs)
    assert refusal["reason"] == "otp_invalid"
    assert refusal["stage"] == "otp"
    assert refusal["user_id"] is not None
    assert refusal["username_hash"] is None
    assert code not in repr(logs)
