"""RP-Initiated Logout, back-channel logout and the native JSON logout."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idplus.config import Settings
from tests.flows.forms import parse_forms
from tests.harness import PASSWORD, Harness, code_from_login, exchange_code, refresh
from tests.outbound.receiver import Receiver, outbox_rows, pending, wait_until

BYE = "https://rp.example/bye"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Three tries, and a worker that looks for due retries often (the clock is frozen)."""
    return settings.model_copy(update={"delivery_attempts": 3, "outbox_poll_seconds": 0.05})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _delivered(h: Harness) -> list[dict[str, Any]]:
    """Wait until the outbox has nothing left to send (retries are due by advancing the frozen
    clock past their backoff), then its deliveries."""

    def nothing_pending() -> bool:
        h.clock.advance(timedelta(seconds=60))
        return pending(h.settings.database_url) == 0

    wait_until(nothing_pending, "the outbox to deliver or give up")
    return outbox_rows(h.settings.database_url)


def _login(h: Harness, client_id: str = "app") -> dict[str, Any]:
    code = code_from_login(h, client_id, scope="openid offline_access")
    body: dict[str, Any] = exchange_code(h, code, client_id).json()
    return body


@pytest.fixture
def app(harness: Harness) -> Harness:
    harness.add_client("app", client_type="MobileApp", post_logout_redirect_uris=[BYE],
                       scopes=["openid", "offline_access"], one_telenor=True)  # fmt: skip
    harness.add_user()
    return harness


def _end(h: Harness, **params: str) -> Any:
    return h.http.get("/connect/endsession", params=params)


def test_logout_with_hint_redirects_with_state_and_kills_refresh(app: Harness) -> None:
    tokens = _login(app)
    response = _end(app, id_token_hint=tokens["id_token"], post_logout_redirect_uri=BYE, state="s9")
    assert response.status_code == 302
    assert response.headers["location"] == f"{BYE}?state=s9"
    cleared = [c for c in response.headers.get_list("set-cookie") if c.startswith("idplus_sso=")]
    assert cleared
    assert "Max-Age=0" in cleared[0]
    answer = refresh(app, tokens["refresh_token"], "app")
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
    again = app.http.get(app.authorize_url("app", prompt="none"))
    assert "login_required" in again.headers["location"]


def test_an_expired_hint_still_logs_out(app: Harness) -> None:
    tokens = _login(app)
    app.clock.advance(timedelta(hours=2))
    response = _end(app, id_token_hint=tokens["id_token"], post_logout_redirect_uri=BYE)
    assert response.headers["location"] == BYE


def test_unregistered_redirect_is_ignored_and_the_page_says_logged_out(app: Harness) -> None:
    tokens = _login(app)
    response = _end(app, id_token_hint=tokens["id_token"],
                    post_logout_redirect_uri="https://evil.example/")  # fmt: skip
    assert response.status_code == 200
    assert "You are now logged out" in response.text
    assert refresh(app, tokens["refresh_token"], "app").json()["error"] == "invalid_grant"


def test_without_a_valid_hint_the_user_confirms(app: Harness) -> None:
    tokens = _login(app)
    page = _end(app, id_token_hint="not-a-token", ui_locales="no")
    assert 'value="logout"' in page.text
    assert "Logg ut" in page.text
    assert refresh(app, tokens["refresh_token"], "app").status_code == 200

    from tests.flows.forms import parse_forms

    (form,) = parse_forms(page.text)
    done = app.http.post(form.action, data={**form.fields, "action": "logout"})
    assert "Du er nå logget ut" in done.text


def test_confirmation_needs_the_csrf_token(app: Harness) -> None:
    _login(app)
    forged = app.http.post("/logout", data={"action": "logout"})
    assert forged.status_code == 403


def test_client_id_must_match_the_hint(app: Harness) -> None:
    tokens = _login(app)
    response = _end(app, id_token_hint=tokens["id_token"], client_id="someone-else")
    assert response.status_code == 400


def test_backchannel_logout_reaches_the_other_clients_of_the_session(
    app: Harness, receiver: Receiver
) -> None:
    app.add_client("tv", silent_sso=True, one_telenor=True, backchannel_logout_uri=receiver.uri)
    app.add_client("shop", one_telenor=True, backchannel_logout_uri=receiver.uri + "?shop")
    tokens = _login(app)
    code_from_login(app, "tv")  # SSO: the tv client joins the session

    _end(app, id_token_hint=tokens["id_token"])

    assert [row["subject"] for row in _delivered(app)] == ["tv"]  # shop never took part
    (logout_token,) = receiver.tokens
    jwks = KeySet.import_key_set(app.http.get("/.well-known/jwks.json").json())
    decoded = jwt.decode(logout_token, jwks)
    assert decoded.header["typ"] == "logout+jwt"
    claims = decoded.claims
    id_claims = jwt.decode(tokens["id_token"], jwks).claims
    assert claims["aud"] == "tv"
    assert claims["sid"] == id_claims["sid"]
    assert claims["events"] == {"http://schemas.openid.net/event/backchannel-logout": {}}
    assert "nonce" not in claims
    assert {"iat", "exp", "jti", "sub", "iss"} <= set(claims)


def test_a_failing_receiver_does_not_break_the_logout(app: Harness) -> None:
    failing = Receiver(status=500)
    try:
        app.add_client("tv", silent_sso=True, one_telenor=True, backchannel_logout_uri=failing.uri)
        tokens = _login(app)
        code_from_login(app, "tv")
        response = _end(app, id_token_hint=tokens["id_token"], post_logout_redirect_uri=BYE)
        assert response.status_code == 302
        (row,) = _delivered(app)
        assert (row["status"], row["attempts"], row["last_error"]) == ("failed", 3, "HTTP 500")
        assert len(failing.tokens) == 3  # three attempts, then given up
    finally:
        failing.close()


def _native(h: Harness, body: Any) -> Any:
    return h.http.post("/connect/logout", content=json.dumps(body),
                       headers={"Content-Type": "application/json"})  # fmt: skip


def test_native_logout_answers(app: Harness) -> None:
    tokens = _login(app)
    assert _native(app, {"state": "x"}).status_code == 400
    assert _native(app, {"id_token_hint": None}).json() == "id_token_hint is null"
    bad = _native(app, {"id_token_hint": "a.b.c"})
    assert (bad.status_code, bad.json()) == (401, "Invalid token")

    done = _native(app, {"id_token_hint": tokens["id_token"], "state": "st-7"})
    assert (done.status_code, done.json()) == (200, "st-7")
    again = _native(app, {"id_token_hint": tokens["id_token"], "state": "st-7"})
    assert (again.status_code, again.json()) == (200, "Already logged out")
    assert refresh(app, tokens["refresh_token"], "app").json()["error"] == "invalid_grant"


def test_native_logout_refuses_json_nested_too_deep_to_parse(app: Harness) -> None:
    nested = app.http.post("/connect/logout", content=b"[" * 3000,
                           headers={"Content-Type": "application/json"})  # fmt: skip
    assert (nested.status_code, nested.json()) == (400, "Request body must be a JSON object")


def test_discovery_advertises_logout(app: Harness) -> None:
    document = app.http.get("/.well-known/openid-configuration").json()
    assert document["end_session_endpoint"].endswith("/connect/endsession")
    assert document["custom_logout_endpoint"].endswith("/connect/logout")
    assert document["backchannel_logout_supported"] is True
    assert document["backchannel_logout_session_supported"] is True


class _KeysOffTheLoop:
    """Wraps the key source: records every lookup made on the event loop's thread."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.on_the_loop = 0

    def _note(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self.on_the_loop += 1

    def current(self) -> Any:
        self._note()
        return self.inner.current()

    def all_keys_ring(self) -> Any:
        self._note()
        return self.inner.all_keys_ring()


def test_native_logout_never_reads_keys_on_the_event_loop(app: Harness, receiver: Receiver) -> None:
    """The key ring may be reread from the database: on the loop that stalls every request."""
    app.add_client("tv", silent_sso=True, one_telenor=True, backchannel_logout_uri=receiver.uri)
    tokens = _login(app)
    code_from_login(app, "tv")
    state = app.http.app.state  # type: ignore[attr-defined]
    spy = _KeysOffTheLoop(state.context.keys)
    state.context = dataclasses.replace(state.context, keys=spy)
    done = _native(app, {"id_token_hint": tokens["id_token"], "state": "s"})
    assert done.status_code == 200
    wait_until(lambda: receiver.tokens, "the logout token")
    assert spy.on_the_loop == 0


def _sid_and_user(h: Harness, id_token: str) -> tuple[str, str]:
    """The session the ID token names, and the user's id (not the typed username)."""
    jwks = KeySet.import_key_set(h.http.get("/.well-known/jwks.json").json())
    sid = jwt.decode(id_token, jwks).claims["sid"]
    store = h.store()
    try:
        with store.reading() as uow:
            user = uow.users.find_by_username("+4790000001")
    finally:
        store.dispose()
    assert user is not None
    return sid, user.id


def _no_secret_in(events: list[Any], *secrets: str) -> None:
    written = json.dumps([dataclasses.asdict(e) for e in events], default=str)
    for secret in (PASSWORD, "+4790000001", "4790000001", *secrets):
        assert secret not in written, secret


def _secrets(tokens: dict[str, Any]) -> list[str]:
    return [tokens[name] for name in ("access_token", "refresh_token", "id_token")]


def test_native_logout_is_recorded_as_native_once(app: Harness) -> None:
    tokens = _login(app)
    sid, user_id = _sid_and_user(app, tokens["id_token"])
    assert _native(app, {"id_token_hint": tokens["id_token"], "state": "st-7"}).json() == "st-7"
    assert _native(app, {"id_token_hint": tokens["id_token"]}).json() == "Already logged out"
    (event,) = app.audit_events("session.logged_out")
    assert (event.client_id, event.user_id) == ("app", user_id)
    assert event.detail == {"sid": sid, "via": "native"}
    _no_secret_in([event], *_secrets(tokens))


def test_a_confirmed_logout_is_recorded_without_a_client(app: Harness) -> None:
    tokens = _login(app)
    sid, user_id = _sid_and_user(app, tokens["id_token"])
    page = _end(app)  # no id_token_hint: the user confirms
    (form,) = parse_forms(page.text)
    done = app.http.post(form.action, data={**form.fields, "action": "logout"})
    assert "You are now logged out" in done.text
    (event,) = app.audit_events("session.logged_out")
    assert (event.client_id, event.user_id) == (None, user_id)
    assert event.detail == {"sid": sid, "via": "confirmed"}
    _no_secret_in([event], *_secrets(tokens))


def test_a_hint_naming_another_browsers_session_is_recorded_as_id_token_hint(
    app: Harness,
) -> None:
    tokens = _login(app)
    sid, user_id = _sid_and_user(app, tokens["id_token"])
    app.http.cookies.clear()  # another browser: it holds no session
    response = _end(app, id_token_hint=tokens["id_token"], post_logout_redirect_uri=BYE)
    assert response.headers["location"] == BYE
    assert refresh(app, tokens["refresh_token"], "app").json()["error"] == "invalid_grant"
    (event,) = app.audit_events("session.logged_out")
    assert (event.client_id, event.user_id) == ("app", user_id)
    assert event.detail == {"sid": sid, "via": "id_token_hint"}
    _no_secret_in([event], *_secrets(tokens))
