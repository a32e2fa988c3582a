"""The audit trail an operator reads with `idplus audit list`, after a day of real use through
the pages and endpoints: failed and successful logins (with SMS), a refresh-token reuse, a
logout, device and CIBA decisions, a session ended and an app revoked on the account page,
client and key changes — each event with its client, user and detail, and none holding a
password, code, secret, token or the typed username. On both backends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from idplus.config import Settings
from idplus.logs import configure_logging
from idplus.protocol.assurance import AMR_PASSWORD, AMR_SMS_OTP, acr_for_level
from tests.cli.conftest import Cli
from tests.flows.forms import FormBrowser, parse_forms
from tests.harness import PASSWORD, Harness, exchange_code, redirect_params, refresh
from tests.protocol.ciba.helpers import PHONE, add_ciba_client, approval_link, approve, started

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
WRONG_PASSWORD = "not-the-password-7"
NOWHERE = "https://nowhere.invalid"


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(update={"database_url": database_url})


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> Iterator[Cli]:
    """`idplus …` on the app's database; the app's logging again afterwards (a command logs
    warnings only, which would hide the info lines later tests capture)."""
    monkeypatch.setenv("IDPLUS_DATABASE_URL", settings.database_url)
    yield Cli(capsys)
    configure_logging(settings.log_level, json=settings.log_json)


@pytest.fixture
def parties(harness: Harness) -> Harness:
    """An app, a TV (device flow), a shop (CIBA), and one user who always gives an SMS code."""
    harness.add_client("app", client_type="MobileApp", scopes=["openid", "offline_access"],
                       one_telenor=True)  # fmt: skip
    harness.add_client("tv", client_type="MobileApp", redirect_uris=[],
                       grant_types=[DEVICE_GRANT, "refresh_token"],
                       scopes=["openid", "profile", "offline_access"])  # fmt: skip
    add_ciba_client(harness)
    harness.add_user(PHONE, otp_required=True)
    return harness


def _newest_code(h: Harness) -> str:
    return h.outbox()[-1]["code"]


def _log_in(h: Harness, browser: FormBrowser, page: Any) -> Any:
    """Through the password and code pages, if they are asked for."""
    if 'name="password"' in page.text:
        page = browser.submit({"username": PHONE, "password": PASSWORD}, ("action", "login"))
    if 'name="otp"' in page.text:
        page = browser.submit({"otp": _newest_code(h)}, ("action", "verify"))
    return page


def _app_login(h: Harness) -> dict[str, Any]:
    """A wrong password, a wrong code, then the right ones: the app's tokens."""
    browser = h.browser()
    browser.get(h.authorize_url("app", scope="openid offline_access"))
    refused = browser.submit({"username": PHONE, "password": WRONG_PASSWORD}, ("action", "login"))
    assert 'name="password"' in refused.text
    at_code = h.login(browser, PHONE)
    assert 'name="otp"' in at_code.text
    browser.submit({"otp": "000000" if _newest_code(h) != "000000" else "111111"},
                   ("action", "verify"))  # fmt: skip
    done = browser.submit({"otp": _newest_code(h)}, ("action", "verify"))
    tokens: dict[str, Any] = exchange_code(h, redirect_params(done)["code"], "app").json()
    return tokens


def _device_decisions(h: Harness) -> list[str]:
    """Approve one TV, deny another; their user codes and device codes."""
    secrets = []
    browser = FormBrowser(h.http, NOWHERE)
    for action in ("approve", "deny"):
        form = {"client_id": "tv", "scope": "openid offline_access"}
        started_device = h.http.post("/connect/deviceauthorization", data=form).json()
        secrets += [started_device["user_code"], started_device["device_code"]]
        browser.get("/device")
        page = browser.submit({"user_code": started_device["user_code"]}, ("action", "continue"))
        page = _log_in(h, browser, page)
        assert f'value="{action}"' in page.text, page.text[:400]
        browser.submit(button=("action", action))
        if action == "approve":
            h.clock.advance(timedelta(seconds=10))
            data = {"grant_type": DEVICE_GRANT, "device_code": started_device["device_code"],
                    "client_id": "tv"}  # fmt: skip
            tv_tokens = h.http.post("/connect/token", data=data).json()
            secrets += [tv_tokens["access_token"], tv_tokens["refresh_token"]]
    return secrets


def _ciba_decisions(h: Harness) -> list[str]:
    """Approve one shop request, deny another; their auth_req_ids and approval links."""
    secrets = []
    for action in ("approve", "deny"):
        secrets.append(started(h)["auth_req_id"])
        secrets.append(parse_qs(urlsplit(approval_link(h)).query)["token"][0])
        page = approve(h, action=action, otp=True)
        assert page.status_code == 200, page.text[:400]
    return secrets


def _account_page(h: Harness) -> tuple[FormBrowser, Any]:
    h.http.cookies.clear()
    browser = FormBrowser(h.http, NOWHERE)
    return browser, _log_in(h, browser, browser.get("/account?locale=en"))


def _press(h: Harness, page: Any, action: str, **fields: str) -> Any:
    form = next(f for f in parse_forms(page.text) if ("action", action) in f.buttons)
    return h.http.post(form.action, data={**form.fields, **fields, "action": action})


def _events(cli: Cli) -> list[dict[str, Any]]:
    return list(reversed(cli.lines("audit", "list", "--limit", "1000")))


def _only(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == name]


def test_a_day_of_use_leaves_a_trail_of_who_did_what_and_no_secret(
    parties: Harness, cli: Cli
) -> None:
    h = parties
    tokens = _app_login(h)
    rotated = refresh(h, tokens["refresh_token"], "app").json()
    assert refresh(h, tokens["refresh_token"], "app").json()["error"] == "invalid_grant"
    hint = urlencode({"id_token_hint": tokens["id_token"]})
    assert h.http.get(f"/connect/endsession?{hint}").status_code == 200
    h.http.cookies.clear()
    secrets = _device_decisions(h) + _ciba_decisions(h)
    other_browser_session = [e["detail"]["sid"] for e in _only(_events(cli), "login.succeeded")][-1]
    _, page = _account_page(h)
    assert "The session has ended." in _press(h, page, "end_session").text
    assert _press(h, page, "revoke_app", client_id="tv").status_code == 200
    shop_secret = cli.ok("client", "add", "--client-id", "bank", "--type", "Confidential",
                         "--redirect-uri", "https://bank.example/cb")["client_secret"]  # fmt: skip
    new_secret = cli.ok("client", "rotate-secret", "bank")["client_secret"]
    cli.ok("client", "remove", "bank")
    new_key = cli.ok("keys", "rotate")

    events = _events(cli)
    (user_id,) = {e["user_id"] for e in _only(events, "login.succeeded")}
    wrong_password, wrong_code = _only(events, "login.failed")
    assert wrong_password["client_id"] == "app" and wrong_password["user_id"] is None
    assert wrong_password["detail"]["reason"] == "invalid_credentials"
    assert wrong_password["detail"]["stage"] == "login"
    assert len(wrong_password["detail"]["username_hash"]) == 64
    assert (wrong_code["user_id"], wrong_code["detail"]) == (
        user_id, {"reason": "otp_invalid", "stage": "otp"}
    )  # fmt: skip
    first_login = _only(events, "login.succeeded")[0]
    assert first_login["client_id"] == "app"
    assert first_login["detail"]["method"] == "password+sms_code"
    assert first_login["detail"]["acr"] == acr_for_level(2)
    assert set(first_login["detail"]["amr"]) == {AMR_PASSWORD, AMR_SMS_OTP}
    app_sid = first_login["detail"]["sid"]
    (reuse,) = _only(events, "token.refresh_reuse_detected")
    assert (reuse["client_id"], reuse["user_id"]) == ("app", user_id)
    assert reuse["detail"]["sid"] == app_sid
    (logout,) = _only(events, "session.logged_out")
    assert (logout["client_id"], logout["user_id"]) == ("app", user_id)
    assert logout["detail"] == {"sid": app_sid, "via": "end_session"}
    for name in ("device.approved", "device.denied"):
        (decision,) = _only(events, name)
        assert (decision["client_id"], decision["user_id"]) == ("tv", user_id)
        assert decision["detail"] == {"scope": "openid offline_access"}
    for name in ("ciba.approved", "ciba.denied"):
        (decision,) = _only(events, name)
        assert (decision["client_id"], decision["user_id"]) == ("shop", user_id)
        assert decision["detail"] == {"scope": "openid vipps"}
    (ended,) = _only(events, "user.session_ended")
    assert ended["user_id"] == user_id
    assert ended["detail"]["sid"] == other_browser_session
    (revoked,) = _only(events, "user.app_revoked")
    assert (revoked["client_id"], revoked["user_id"]) == ("tv", user_id)
    (added,) = [e for e in _only(events, "client.added") if e["client_id"] == "bank"]
    assert added["detail"]["type"] == "Confidential"
    assert added["detail"]["redirect_uris"] == ["https://bank.example/cb"]
    (rotation,) = _only(events, "client.secret_rotated")
    assert rotation["client_id"] == "bank" and rotation["detail"]["retired_secret_ids"] == []
    (removal,) = _only(events, "client.removed")
    assert removal["detail"]["type"] == "Confidential"
    rotated_keys = {e["detail"]["kid"]: e["detail"]["alg"] for e in _only(events, "key.rotated")}
    assert rotated_keys == {k["kid"]: k["alg"] for k in new_key["rotated"]}

    written = json.dumps(events)
    typed = (PHONE, PHONE.removeprefix("+"), PHONE.removeprefix("+47"))
    codes = [m["code"] for m in h.outbox() if "code" in m]
    tokens_seen = [tokens["access_token"], tokens["refresh_token"], tokens["id_token"],
                   rotated["access_token"], rotated["refresh_token"]]  # fmt: skip
    for value in (PASSWORD, WRONG_PASSWORD, shop_secret, new_secret, *typed, *codes,
                  *tokens_seen, *secrets):  # fmt: skip
        assert f'"{value}"' not in written and value not in written, value
