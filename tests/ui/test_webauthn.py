"""Passkeys through the pages' JSON endpoints, as the pages' script uses them: added on the
account page after a fresh two-factor login, a login with one through /connect/authorize that
ends in the client's code (amr passkey, acr aal.2), a step-up with one instead of the SMS
code, removal ending the sessions it opened, and every bad answer refused with a message, a
`passkey_refused` log line and no session."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from idplus.application.app import create_app
from idplus.auth.sender import OutboxSender
from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.protocol.assurance import AMR_PASSKEY, AMR_PASSWORD
from idplus.protocol.login.finish import finish_login
from idplus.protocol.passkeys.removal import remove_passkey
from tests.flows.forms import FormBrowser, parse_forms
from tests.harness import CALLBACK, PASSWORD, Harness, exchange_code, redirect_params
from tests.outbound.receiver import pending
from tests.ui.test_account import _account
from tests.webauthn_authenticator import SoftwareAuthenticator, b64url

ISSUER = "http://localhost:8000"
USER = "+4790000001"
AAL2 = "urn:telenor.identity.aal.2"
Json = dict[str, Any]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Passkeys need a host name: the shared issuer (127.0.0.1) has none."""
    return Settings(
        issuer=ISSUER, database_url=database_url, outbox=tmp_path / "outbox.jsonl", log_json=True
    )


@pytest.fixture
def h(harness: Harness) -> Harness:
    harness.add_client("spa")
    harness.add_user(USER)
    return harness


@pytest.fixture
def authenticator() -> SoftwareAuthenticator:
    return SoftwareAuthenticator(origin=ISSUER)


def _csrf(page: Any) -> str:
    return next(f.fields["csrf_token"] for f in parse_forms(page.text) if "csrf_token" in f.fields)


def _post(h: Harness, path: str, body: Json, csrf: str) -> Any:
    return h.http.post(path, json=body, headers={"X-CSRF-Token": csrf})


def _add_passkey(h: Harness, authenticator: SoftwareAuthenticator, name: str = "My phone") -> Any:
    """The account page (a password login), then the script's calls: a login of one factor
    is sent through a fresh password + SMS login first, as the script does."""
    _, page = _account(h)
    options = _post(h, "/webauthn/register/options?locale=en", {}, _csrf(page))
    if options.status_code == 403:
        page = _fresh_login(h, options.json()["redirect"])
        options = _post(h, "/webauthn/register/options?locale=en", {}, _csrf(page))
    assert options.status_code == 200, options.text
    csrf = _csrf(page)
    credential = authenticator.create(options.json())
    return _post(h, "/webauthn/register/verify", {"credential": credential, "name": name}, csrf)


def _fresh_login(h: Harness, redirect: str) -> Any:
    """The login a refused registration names: password and SMS code, back to the passkeys."""
    browser = FormBrowser(h.http, "https://nowhere.invalid")
    login = browser.get(redirect)
    assert "Log in again as" in login.text
    browser.submit({"username": USER, "password": PASSWORD}, ("action", "login"))
    back = browser.submit({"otp": h.outbox()[-1]["code"]}, ("action", "verify"))
    assert str(back.url) == f"{ISSUER}/account?locale=en#passkeys" or back.status_code == 200
    return back


class PasskeyLogin:
    """A browser at a login page of the client `spa`, using the passkey instead."""

    def __init__(self, h: Harness, **authorize: str) -> None:
        self.h = h
        self.browser = FormBrowser(h.http, CALLBACK)
        self.page = self.browser.get(h.authorize_url("spa", **authorize))
        assert self.page.status_code == 200, self.page.text
        (form,) = parse_forms(self.page.text)
        self.handle, self.csrf = form.fields["interaction"], form.fields["csrf_token"]

    def options(self) -> Json:
        answer = _post(self.h, "/webauthn/login/options", {"interaction": self.handle}, self.csrf)
        assert answer.status_code == 200, answer.text
        options: Json = answer.json()
        return options

    def verify(self, credential: Json, handle: str | None = None) -> Any:
        body = {"interaction": handle or self.handle, "credential": credential}
        return _post(self.h, "/webauthn/login/verify", body, self.csrf)

    def finish(self, authenticator: SoftwareAuthenticator) -> Any:
        """options → navigator.credentials.get() → verify → the GET the script does."""
        verified = self.verify(authenticator.get(self.options()))
        assert verified.status_code == 200, verified.text
        assert verified.json() == {"redirect": f"/login?interaction={self.handle}"}
        return self.h.http.get(verified.json()["redirect"])


def _id_token_claims(h: Harness, finished: Any) -> Json:
    tokens = exchange_code(h, redirect_params(finished)["code"]).json()
    jwks = KeySet.import_key_set(h.http.get("/.well-known/jwks.json").json())
    claims: Json = jwt.decode(tokens["id_token"], jwks).claims
    return claims


def _audit(h: Harness, event: str) -> list[Any]:
    store = h.store()
    try:
        with store.reading() as uow:
            return list(uow.audit.list_events(events=(event,)))
    finally:
        store.dispose()


def test_a_passkey_added_on_the_account_page_logs_in_at_level_2(
    h: Harness, authenticator: SoftwareAuthenticator
) -> None:
    added = _add_passkey(h, authenticator)
    assert added.status_code == 200, added.text
    assert added.json()["name"] == "My phone" and added.json()["id"]
    page = h.http.get("/account?locale=en&notice=passkey_added")
    assert 'id="passkeys"' in page.text and "My phone" in page.text
    assert "This device only" in page.text and "The passkey is added." in page.text

    h.http.cookies.clear()  # another browser, logged in nowhere
    login = PasskeyLogin(h)
    finished = login.finish(authenticator)
    claims = _id_token_claims(h, finished)
    assert AMR_PASSKEY in claims["amr"] and claims["acr"] == AAL2
    (succeeded,) = [e for e in _audit(h, "login.succeeded") if e.client_id == "spa"]
    assert succeeded.detail["method"] == "passkey"
    metrics = h.http.get("/metrics").text
    assert 'idplus_logins_total{method="passkey",result="success"} 1.0' in metrics
    # Finishing used the login up: a second GET is the "login expired" page.
    again = h.http.get(f"/login?interaction={login.handle}")
    assert "This login has expired or is already finished." in again.text


def test_a_login_too_old_to_add_a_passkey_is_sent_through_a_fresh_login(
    h: Harness, clock: FrozenClock, authenticator: SoftwareAuthenticator
) -> None:
    assert _add_passkey(h, authenticator).status_code == 200
    clock.advance(timedelta(minutes=6))
    page = h.http.get("/account?locale=en")
    refused = _post(h, "/webauthn/register/options?locale=en", {}, _csrf(page))
    assert refused.status_code == 403
    assert refused.json()["error"] == "fresh_login_required"
    assert refused.json()["error_description"].startswith("To add a passkey")
    back = _fresh_login(h, refused.json()["redirect"])
    assert "My phone" in back.text
    assert _post(h, "/webauthn/register/options", {}, _csrf(back)).status_code == 200


def test_a_step_up_takes_a_passkey_instead_of_the_sms_code(
    h: Harness, authenticator: SoftwareAuthenticator
) -> None:
    assert _add_passkey(h, authenticator).status_code == 200
    h.http.cookies.clear()
    browser = h.browser()
    browser.get(h.authorize_url("spa"))
    redirect_params(h.login(browser))  # a password login: level 1
    sms_before = len(h.outbox())
    login = PasskeyLogin(h, acr_values=AAL2)
    assert "Extra verification" in login.page.text
    options = login.options()
    # A step-up knows its user: their passkeys are listed.
    assert [c["id"] for c in options["allowCredentials"]] == [
        b64url(key) for key in authenticator.credentials
    ]
    verified = login.verify(authenticator.get(options))
    claims = _id_token_claims(h, h.http.get(verified.json()["redirect"]))
    assert claims["acr"] == AAL2
    assert {AMR_PASSWORD, AMR_PASSKEY} <= set(claims["amr"])
    assert len(h.outbox()) == sms_before  # no SMS code was sent


def test_form_post_carries_the_code_of_a_passkey_login(
    h: Harness, authenticator: SoftwareAuthenticator
) -> None:
    _add_passkey(h, authenticator)
    h.http.cookies.clear()
    finished = PasskeyLogin(h, response_mode="form_post").finish(authenticator)
    assert finished.status_code == 200
    assert f'action="{CALLBACK}"' in finished.text and 'name="code"' in finished.text


def test_removing_a_passkey_ends_the_sessions_it_opened(
    h: Harness, authenticator: SoftwareAuthenticator
) -> None:
    h.add_client("tv", one_telenor=True, backchannel_logout_uri="http://127.0.0.1:9/bc",
                 redirect_uris=[CALLBACK])  # fmt: skip
    _add_passkey(h, authenticator)
    h.http.cookies.clear()
    # Another browser logs in to the tv with the passkey, and opens the account page.
    tv = FormBrowser(h.http, CALLBACK)
    tv.get(h.authorize_url("tv"))
    (form,) = parse_forms(tv.last.text)
    handle, csrf = form.fields["interaction"], form.fields["csrf_token"]
    options = _post(h, "/webauthn/login/options", {"interaction": handle}, csrf).json()
    body = {"interaction": handle, "credential": authenticator.get(options)}
    verified = _post(h, "/webauthn/login/verify", body, csrf).json()
    redirect_params(h.http.get(verified["redirect"]))
    page = h.http.get("/account?locale=en")
    assert page.status_code == 200 and "Passkey" in page.text
    remove = next(f for f in parse_forms(page.text) if "passkey_id" in f.fields)
    fields = {**remove.fields, "action": "remove_passkey"}

    asked = h.http.post(remove.action, data=fields)
    assert "Yes, remove it" in asked.text  # nothing is removed before the user confirms
    assert "My phone" in h.http.get("/account?locale=en").text
    gone = h.http.post(remove.action, data={**fields, "confirmed": "yes"})

    # Its own session was the passkey's: the page is logged out, its cookie cleared.
    assert gone.status_code == 303 and gone.headers["location"] == "/account"
    assert any(c.startswith("idplus_sso=") for c in gone.headers.get_list("set-cookie"))
    assert h.http.get("/account").headers["location"].startswith("/login?")
    assert pending(h.settings.database_url) >= 1  # the tv's back-channel logout
    (removed,) = _audit(h, "user.passkey_removed")
    assert removed.detail["sessions_ended"] == 1


# ---- bad input -------------------------------------------------------------------------


@pytest.fixture
def registered(h: Harness, authenticator: SoftwareAuthenticator) -> SoftwareAuthenticator:
    _add_passkey(h, authenticator)
    h.http.cookies.clear()
    return authenticator


def _another_login(login: PasskeyLogin) -> str:
    """A second login in progress in the same browser."""
    other = PasskeyLogin(login.h)
    login.csrf = other.csrf
    return other.handle


BAD_ANSWERS: dict[str, Any] = {
    "wrong origin": lambda a, o, _l: a.get(o, origin="https://idp.example.evil"),
    "wrong rp id": lambda a, o, _l: a.get(o, rp_id="evil.example"),
    "user handle of another user": lambda a, o, _l: a.get(o, user_handle=b"someone-else"),
    "malformed client data": lambda a, o, _l: a.get(o, client_data_json=b"{not json"),
    "unknown credential": lambda _a, o, _l: _stranger().get(o),
    "challenge never issued": lambda a, o, _l: a.get(o, challenge=b64url(b"x" * 32)),
}


def _stranger() -> SoftwareAuthenticator:
    stranger = SoftwareAuthenticator(origin=ISSUER)
    stranger.create({"rp": {"id": "localhost"}, "user": {"id": b64url(b"u")}, "challenge": "AA"})
    return stranger


def _assert_refused(h: Harness, login: PasskeyLogin, answer: Any, status: int = 400) -> Json:
    assert answer.status_code == status, answer.text
    body: Json = answer.json()
    assert set(body) == {"error", "error_description"} and body["error_description"]
    assert not any(c.startswith("idplus_sso") for c in answer.headers.get_list("set-cookie"))
    # The login is where it was: no session, no code for the client.
    page = h.http.get(f"/login?interaction={login.handle}")
    assert page.status_code == 200 and 'name="password"' in page.text
    return body


@pytest.mark.parametrize("case", sorted(BAD_ANSWERS))
def test_a_bad_assertion_is_refused_with_a_message_and_a_log_line(
    h: Harness, registered: SoftwareAuthenticator, case: str
) -> None:
    login = PasskeyLogin(h)
    with capture_logs() as logs:
        answer = login.verify(BAD_ANSWERS[case](registered, login.options(), login))
    _assert_refused(h, login, answer)
    (line,) = [entry for entry in logs if entry["event"] == "passkey_refused"]
    assert line["client_id"] == "spa" and line["stage"] == "login"
    (failed,) = _audit(h, "login.failed")
    assert str(failed.detail["reason"]).startswith("passkey_")


def test_a_replayed_assertion_is_refused(h: Harness, registered: SoftwareAuthenticator) -> None:
    first = PasskeyLogin(h)
    assertion = registered.get(first.options())
    assert first.verify(assertion).status_code == 200
    h.http.get(f"/login?interaction={first.handle}")
    h.http.cookies.clear()
    second = PasskeyLogin(h)
    second.options()
    body = _assert_refused(h, second, second.verify(assertion, second.handle))
    assert body["error"] == "challenge_unknown"


def test_a_challenge_is_used_once_and_only_by_its_own_login(
    h: Harness, registered: SoftwareAuthenticator
) -> None:
    login = PasskeyLogin(h)
    options = login.options()
    _assert_refused(h, login, login.verify(registered.get(options, origin="https://evil.example")))
    reused = login.verify(registered.get(options))  # the refused answer used the challenge up
    assert _assert_refused(h, login, reused)["error"] == "challenge_unknown"
    # A challenge of this login answered to another login of the same browser.
    options = login.options()
    other = _another_login(login)
    body = _assert_refused(h, login, login.verify(registered.get(options), other))
    assert body["error"] == "challenge_unknown"


def test_an_expired_login_refuses_the_passkey(
    h: Harness, clock: FrozenClock, registered: SoftwareAuthenticator
) -> None:
    login = PasskeyLogin(h)
    options = login.options()
    clock.advance(timedelta(seconds=h.settings.interaction_lifetime + 1))
    answer = login.verify(registered.get(options))
    assert answer.status_code == 400 and answer.json()["error"] == "login_expired"


def test_the_requests_must_be_json_with_the_pages_csrf_token(
    h: Harness, registered: SoftwareAuthenticator
) -> None:
    login = PasskeyLogin(h)
    with capture_logs() as logs:
        no_token = h.http.post("/webauthn/login/options", json={"interaction": login.handle})
        wrong = _post(h, "/webauthn/login/options", {"interaction": login.handle}, "forged")
        not_json = h.http.post(
            "/webauthn/login/verify",
            content=b"interaction=x",
            headers={"X-CSRF-Token": login.csrf, "Content-Type": "text/plain"},
        )
        broken = h.http.post(
            "/webauthn/login/verify",
            content=b"{",
            headers={"X-CSRF-Token": login.csrf, "Content-Type": "application/json"},
        )
        no_account = _post(h, "/webauthn/register/verify", {"credential": {}}, login.csrf)
    assert (no_token.status_code, wrong.status_code) == (403, 403)
    assert no_token.json()["error"] == "invalid_csrf_token"
    for answer in (not_json, broken):
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert no_account.status_code == 403 and no_account.json()["redirect"].startswith("/login?")
    assert len([e for e in logs if e["event"] == "passkey_refused"]) == 5


def test_a_passkey_outside_a_login_logs_in_to_the_account_page(
    h: Harness, registered: SoftwareAuthenticator
) -> None:
    """INTERFACE: `interaction` is optional at login/options; without one the options come
    with the handle of a new login for the account page."""
    h.http.cookies.clear()
    login = PasskeyLogin(h)  # any page of ours gives the browser its id and CSRF token
    options = _post(h, "/webauthn/login/options", {}, login.csrf)
    assert options.status_code == 200, options.text
    handle = options.json()["interaction"]
    assert handle != login.handle

    body = {"interaction": handle, "credential": registered.get(options.json())}
    verified = _post(h, "/webauthn/login/verify", body, login.csrf)
    assert verified.status_code == 200, verified.text
    finished = h.http.get(verified.json()["redirect"])

    assert finished.headers["location"].startswith(f"{ISSUER}/account")
    assert "My phone" in h.http.get("/account?locale=en").text


def test_errors_are_in_the_logins_language(h: Harness, registered: SoftwareAuthenticator) -> None:
    login = PasskeyLogin(h, ui_locales="nb")
    answer = login.verify(_stranger().get(login.options()))
    assert answer.json()["error_description"].startswith("Denne tilgangsnøkkelen er ikke")


# ---- the pages -------------------------------------------------------------------------


def test_the_login_pages_offer_passkeys_by_script(h: Harness) -> None:
    page = PasskeyLogin(h).page
    assert 'autocomplete="username webauthn"' in page.text
    assert "passkey-login" in page.text and "mediation = mediation" in page.text
    assert "connect-src 'self'" in page.headers["content-security-policy"]


def test_an_ip_address_issuer_shows_no_passkeys(settings: Settings, clock: FrozenClock) -> None:
    on_ip = Settings(
        issuer="http://127.0.0.1:8000",
        database_url=settings.database_url,
        outbox=settings.outbox,
        log_json=True,
    )
    with _app(on_ip, clock) as http:
        h = Harness(http, on_ip, clock)
        h.add_client("spa")
        page = FormBrowser(http, CALLBACK).get(h.authorize_url("spa"))
    assert 'autocomplete="username"' in page.text and "passkey" not in page.text


def _app(settings: Settings, clock: FrozenClock) -> TestClient:
    return TestClient(create_app(settings, clock=clock), base_url=settings.issuer,
                      follow_redirects=False)  # fmt: skip


def test_the_account_page_lists_passkeys_in_norwegian(
    h: Harness, authenticator: SoftwareAuthenticator
) -> None:
    authenticator.backup_eligible = authenticator.backed_up = True
    authenticator.sign_count_step = 0
    _add_passkey(h, authenticator, name="Telefonen")
    page = h.http.get("/account?locale=nb")
    assert "Tilgangsnøkler" in page.text and "Telefonen" in page.text
    assert "Synkronisert" in page.text and "Ikke brukt ennå" in page.text
    assert 'id="passkey-add-area"' in page.text


# ---- review fixes (issue 18, second review) ---------------------------------------------

ENDPOINTS = [
    "/webauthn/login/options",
    "/webauthn/login/verify",
    "/webauthn/register/options",
    "/webauthn/register/verify",
]


def _post_raw(h: Harness, path: str, body: bytes, csrf: str) -> Any:
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    return h.http.post(path, content=body, headers=headers)


@pytest.mark.parametrize("path", ENDPOINTS)
def test_json_nested_too_deep_to_parse_is_an_invalid_request(h: Harness, path: str) -> None:
    login = PasskeyLogin(h)
    answer = _post_raw(h, path, b"[" * 3000, login.csrf)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


@pytest.mark.parametrize("handle", ["\ud800", "é" * 10, "x" * 129, "a\x00b"])
def test_an_interaction_that_is_no_handle_is_an_invalid_request(
    h: Harness, registered: SoftwareAuthenticator, handle: str
) -> None:
    login = PasskeyLogin(h)
    credential = registered.get(login.options())
    for path, body in (
        ("/webauthn/login/options", {"interaction": handle}),
        ("/webauthn/login/verify", {"interaction": handle, "credential": credential}),
    ):
        # json.dumps writes a lone surrogate as the escape \ud800, as a browser may.
        answer = _post_raw(h, path, json.dumps(body).encode(), login.csrf)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


def test_an_sms_gateway_down_adds_no_passkey_and_says_try_later(
    h: Harness, authenticator: SoftwareAuthenticator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, page = _account(h)
    options = _post(h, "/webauthn/register/options?locale=en", {}, _csrf(page))
    if options.status_code == 403:
        page = _fresh_login(h, options.json()["redirect"])
        options = _post(h, "/webauthn/register/options?locale=en", {}, _csrf(page))
    credential = authenticator.create(options.json())

    def down(_sender: object, _message: object) -> None:
        raise OSError("sms gateway down")

    monkeypatch.setattr(OutboxSender, "send", down)
    body = {"credential": credential, "name": "x"}
    answer = _post(h, "/webauthn/register/verify?locale=nb", body, _csrf(page))
    monkeypatch.undo()

    assert answer.status_code == 503
    assert answer.json()["error"] == "temporarily_unavailable"
    assert answer.json()["error_description"].startswith("Tilgangsnøkkelen ble ikke lagt til")
    assert "Du har ingen tilgangsnøkler ennå." in h.http.get("/account?locale=nb").text
    # The same answer adds it once the SMS can go out.
    assert _post(h, "/webauthn/register/verify", body, _csrf(page)).status_code == 200


def test_refused_passkeys_spend_the_addresss_login_budget(
    h: Harness, registered: SoftwareAuthenticator, clock: FrozenClock
) -> None:
    strict = h.settings.model_copy(update={"login_failures_per_address": 2})
    with _app(strict, clock) as http:
        limited = Harness(http, strict, clock)
        login = PasskeyLogin(limited)
        # A passkey that proves the login gives its attempt back …
        assert login.verify(registered.get(login.options())).status_code == 200
        login = PasskeyLogin(limited)
        for _ in range(2):  # … a refused one does not.
            refused = login.verify(registered.get(login.options(), origin="https://evil.example"))
            assert refused.status_code == 400
        spent = login.verify(registered.get(login.options()))
    assert spent.status_code == 429 and spent.json()["error"] == "too_many_attempts"
    assert spent.json()["error_description"] == "Too many failed attempts. Try again in 15 minutes."
    assert spent.headers["retry-after"] == "900"


def test_a_passkey_removed_before_the_login_finishes_opens_no_session(
    h: Harness, registered: SoftwareAuthenticator, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = finish_login

    def removed_first(ctx: Any, view: Any, proof: Any, user_agent: Any = None) -> Any:
        assert remove_passkey(ctx, proof.user.id, proof.passkey_id) is not None  # another tab
        return real(ctx, view, proof, user_agent)

    monkeypatch.setattr("idplus.protocol.login.passkey.finish_login", removed_first)
    login = PasskeyLogin(h)
    verified = login.verify(registered.get(login.options()))

    finished = h.http.get(verified.json()["redirect"])

    assert "This login has expired or is already finished." in finished.text
    assert not any(c.startswith("idplus_sso") for c in finished.headers.get_list("set-cookie"))
    assert _audit(h, "login.succeeded") == [
        e for e in _audit(h, "login.succeeded") if e.client_id != "spa"
    ]


@pytest.mark.parametrize("passkey_id", ["no-such-passkey", "another users"])
def test_removing_an_unknown_passkey_says_it_was_not_found(
    h: Harness, authenticator: SoftwareAuthenticator, passkey_id: str
) -> None:
    _add_passkey(h, authenticator)
    page = h.http.get("/account?locale=en")
    remove = next(f for f in parse_forms(page.text) if "passkey_id" in f.fields)
    fields = {**remove.fields, "action": "remove_passkey", "confirmed": "yes"}

    answer = h.http.post(remove.action, data={**fields, "passkey_id": passkey_id})

    assert answer.status_code == 404
    assert "This passkey is not on your account" in answer.text
    assert "The passkey is removed." not in answer.text
    assert "My phone" in answer.text


def test_the_code_page_offers_a_passkey_only_to_a_user_who_has_one(
    h: Harness, authenticator: SoftwareAuthenticator
) -> None:
    def step_up_page() -> Any:
        h.http.cookies.clear()
        browser = h.browser()
        browser.get(h.authorize_url("spa"))
        redirect_params(h.login(browser))  # a password login: level 1
        return PasskeyLogin(h, acr_values=AAL2).page

    without = step_up_page()
    assert "Extra verification" in without.text and "passkey-login" not in without.text
    _add_passkey(h, authenticator)
    assert "passkey-login" in step_up_page().text


def test_the_scripts_show_only_what_the_user_caused(h: Harness) -> None:
    page = PasskeyLogin(h).page.text
    # The autofill's own failures (its options call, the browser giving up) say nothing.
    assert "if (mediation && !picked) { return; }" in page
    # A 5xx or 413 from anything on the way reads as failedText, not the server's text.
    assert 'answer.error === "temporarily_unavailable"' in page
    assert "response.status !== 413" in page
