"""The audit trail of logins: a real authentication is `login.succeeded` (method, acr, amr,
sid), a refused step that counts against the user is `login.failed` (reason, stage, and the
user once the password is proved, else the keyed name hash the log carries); a stale form
and an SSO "continue as …" record nothing. On both backends."""

from __future__ import annotations

from dataclasses import replace

from structlog.testing import capture_logs

from idplus.manage.audit import AuditQuery, describe_event, list_events
from idplus.protocol.assurance import AMR_PASSWORD, acr_for_level
from idplus.protocol.context import AppContext
from tests.protocol.login.driver import (
    PASSWORD,
    PHONE,
    Browser,
    add_login_user,
    add_web_client,
    finished,
    sent_codes,
    wrong,
)


def _logins(ctx: AppContext) -> list[dict[str, object]]:
    query = AuditQuery(events=("login.*",))
    return [describe_event(e) for e in reversed(list_events(ctx.store, ctx.clock, query))]


def test_a_password_login_records_its_method_level_and_session(context: AppContext) -> None:
    add_web_client(context)
    add_login_user(context)
    browser = Browser(context)
    session = finished(browser.log_in(browser.authorize())).session
    finished(browser.act(browser.authorize(), "continue"))  # SSO: no new authentication

    (event,) = _logins(context)
    assert event["event"] == "login.succeeded"
    assert (event["client_id"], event["user_id"]) == ("web", session.user_id)
    assert event["detail"] == {
        "method": "password", "acr": acr_for_level(1), "amr": [AMR_PASSWORD], "sid": session.id
    }  # fmt: skip


def test_refused_steps_record_why_and_for_whom_but_never_the_name(context: AppContext) -> None:
    add_web_client(context)
    add_login_user(context, otp_required=True)
    browser = Browser(context)
    handle = browser.authorize()
    with capture_logs() as logs:
        browser.act(handle, "login", username=PHONE, password="wrong-password")
    browser.act(handle, "verify", otp="123456")  # a stale form: not a failed login
    browser.log_in(handle)
    browser.act(handle, "verify", otp=wrong(sent_codes(context)[-1]))
    session = finished(browser.act(handle, "verify", otp=sent_codes(context)[-1])).session

    wrong_password, wrong_code, success = _logins(context)
    assert wrong_password["user_id"] is None
    assert wrong_password["detail"] == {
        "reason": "invalid_credentials",
        "stage": "login",
        "username_hash": logs[0]["username_hash"],
    }
    assert (wrong_code["user_id"], wrong_code["detail"]) == (
        session.user_id, {"reason": "otp_invalid", "stage": "otp"}
    )  # fmt: skip
    assert success["detail"]["method"] == "password+sms_code"
    assert success["detail"]["acr"] == acr_for_level(2)
    text = repr(_logins(context))
    for secret in (PHONE, PHONE[1:], "wrong-password", PASSWORD, *sent_codes(context)):
        assert secret not in text


def test_attempts_refused_while_locked_write_nothing(context: AppContext) -> None:
    """Once locked, every attempt is refused unchecked: a stranger could otherwise write a row
    per request. The attempts that filled the budget are each recorded."""
    ctx = replace(context, settings=context.settings.model_copy(
        update={"login_failures_per_username": 3}))  # fmt: skip
    add_web_client(ctx)
    add_login_user(ctx)
    browser = Browser(ctx)
    handle = browser.authorize()
    for _ in range(10):
        browser.act(handle, "login", username=PHONE, password="wrong-password")

    reasons = [event["detail"]["reason"] for event in _logins(ctx)]  # type: ignore[index]
    assert reasons == ["invalid_credentials"] * 3
