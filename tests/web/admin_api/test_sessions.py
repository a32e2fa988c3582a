"""`/admin/api/v1/sessions`: operators list the live SSO sessions (whose, which apps, how the
login went, which browser; never the cookie) and end one as the account page does: its
refresh tokens stop working and its apps are told over the back channel."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idplus.config import Settings
from idplus.policies import CONSOLE_CLIENT_ID
from tests.harness import Harness, code_from_login, exchange_code, refresh
from tests.outbound.receiver import Receiver, pending, wait_until
from tests.web.admin_api.conftest import API, bearer, make_operator, user_login_token
from tests.web.admin_api.test_users import KARI, OLA, user_id

CHROME_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    """Both databases: the session list pages in SQL."""
    return settings.model_copy(update={"database_url": database_url})


def _log_in(h: Harness, username: str, client_id: str = "spa", **params: str) -> dict[str, Any]:
    """A login in a browser of its own; the tokens it gives."""
    h.http.cookies.clear()
    code = code_from_login(h, client_id, username, **params)
    tokens: dict[str, Any] = exchange_code(h, code, client_id).json()
    return tokens


def _sessions(h: Harness, token: str, **params: Any) -> Any:
    return h.http.get(f"{API}/sessions", params=params, headers=bearer(token))


def test_an_operator_lists_sessions_page_by_page(harness: Harness, operator_token: str) -> None:
    harness.add_client("spa")
    harness.add_user(KARI)
    harness.add_user(OLA)
    harness.http.headers["user-agent"] = CHROME_ON_WINDOWS
    _log_in(harness, KARI)
    _log_in(harness, OLA)
    _log_in(harness, KARI)

    first = _sessions(harness, operator_token, limit=2)
    assert first.status_code == 200, first.text
    rest = _sessions(harness, operator_token, cursor=first.json()["next_cursor"]).json()
    karis = _sessions(harness, operator_token, user_id=user_id(harness, KARI)).json()

    listed = first.json()["items"] + rest["items"]
    assert sorted(s["username"] for s in listed) == [KARI, KARI, OLA]
    assert rest["next_cursor"] is None
    assert [s["username"] for s in karis["items"]] == [KARI, KARI]
    one = listed[0]
    assert one["client_ids"] == ["spa"]
    assert (one["browser"], one["system"]) == ("Chrome 131", "Windows")
    assert one["acr"] and one["amr"] and one["idp"] == "local"
    assert "handle" not in first.text
    unknown = _sessions(harness, operator_token, user_id="nobody")
    assert unknown.status_code == 404


@pytest.mark.parametrize("params", [{"cursor": "***"}, {"limit": "0"}, {"user": "x"}])
def test_bad_list_parameters_are_400(
    harness: Harness, operator_token: str, params: dict[str, str]
) -> None:
    assert _sessions(harness, operator_token, **params).status_code == 400


def test_ending_a_session_tells_its_apps_and_stops_its_refresh_tokens(
    harness: Harness, operator_token: str
) -> None:
    receiver = Receiver()
    try:
        harness.add_client("app", client_type="MobileApp", one_telenor=True,
                           scopes=["openid", "offline_access"],
                           backchannel_logout_uri=receiver.uri)  # fmt: skip
        harness.add_user(KARI)
        tokens = _log_in(harness, KARI, "app", scope="openid offline_access")
        other = _log_in(harness, KARI, "app", scope="openid offline_access")
        jwks = KeySet.import_key_set(harness.http.get("/.well-known/jwks.json").json())
        sid = jwt.decode(tokens["id_token"], jwks).claims["sid"]

        ended = harness.http.delete(f"{API}/sessions/{sid}", headers=bearer(operator_token))

        assert ended.status_code == 204, ended.text
        wait_until(lambda: pending(harness.settings.database_url) == 0, "the logout token")
        (logout_token,) = receiver.tokens
    finally:
        receiver.close()
    assert jwt.decode(logout_token, jwks).claims["sid"] == sid
    assert refresh(harness, tokens["refresh_token"], "app").json()["error"] == "invalid_grant"
    assert refresh(harness, other["refresh_token"], "app").status_code == 200
    again = harness.http.delete(f"{API}/sessions/{sid}", headers=bearer(operator_token))
    assert again.status_code == 404
    [event] = harness.audit_events("session.ended")
    assert event.detail == {"sid": sid, "by": "operator", "actor": "client:ops-console"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_who_may_list_and_end_sessions(harness: Harness) -> None:
    """Who may call is decided before any SQL of the operation: SQLite is enough."""
    harness.add_client("spa")
    harness.add_user(KARI)
    harness.add_user(OLA)
    make_operator(harness, KARI)
    sid = "no-such-session"
    developer = user_login_token(harness, OLA)  # the portal's token
    console = user_login_token(harness, KARI, CONSOLE_CLIENT_ID)

    for method, path in [("GET", "/sessions"), ("DELETE", f"/sessions/{sid}")]:
        as_developer = harness.http.request(method, API + path, headers=bearer(developer))
        stranger = harness.http.request(method, API + path)
        assert as_developer.status_code == 403, as_developer.text
        assert stranger.status_code == 401, stranger.text
    listed = _sessions(harness, console)
    assert listed.status_code == 200, listed.text
    assert harness.http.delete(f"{API}/sessions/{sid}", headers=bearer(console)).status_code == 404
    assert harness.audit_events("session.ended") == []
