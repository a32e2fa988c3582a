"""Session and browser cookies: what a database copy, a token, a planted cookie or a cookie seen
before the login can do with them (nothing), and their names and flags on https."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from itsdangerous import Signer
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.testclient import TestClient

from idplus.application.app import create_app
from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.store.sql.engine import Database
from idplus.store.sql.tables import server_secrets, sso_sessions
from tests.flows.forms import parse_forms
from tests.harness import Harness, code_from_login, exchange_code, redirect_params

AAL2 = "urn:telenor.identity.aal.2"


@pytest.fixture
def tv(harness: Harness) -> Harness:
    harness.add_client("tv", silent_sso=True)
    harness.add_user()
    return harness


def _sso_cookie(h: Harness) -> str:
    return next(v for k, v in h.http.cookies.items() if k.startswith("idplus_sso"))


def _reaches_the_session(h: Harness, cookie_value: str) -> bool:
    name = next(k for k in h.http.cookies if k.startswith("idplus_sso"))
    fresh = TestClient(h.http.app, base_url=str(h.http.base_url), follow_redirects=False)
    fresh.cookies.set(name, cookie_value)
    response = fresh.get(h.authorize_url("tv"))
    return response.status_code == 302 and "code=" in response.headers["location"]


def _stored(h: Harness) -> tuple[bytes, list[dict[str, Any]]]:
    """What a copy of the database holds: the raw rows, read with plain SQL."""
    db = Database(h.settings.database_url)
    try:
        with db.reading() as conn:
            key = conn.execute(
                sa.select(server_secrets.c.value).where(server_secrets.c.name == "secret_key")
            ).scalar_one()
            rows = [dict(r._mapping) for r in conn.execute(sa.select(sso_sessions)).all()]
    finally:
        db.dispose()
    return key.encode(), rows


def test_a_cookie_forged_from_a_database_copy_opens_no_session(tv: Harness) -> None:
    """On main the cookie was the signed session id, and the key sat in the same database."""
    browser = tv.browser()
    browser.get(tv.authorize_url("tv"))
    tv.login(browser)
    assert _reaches_the_session(tv, _sso_cookie(tv))
    key, (row,) = _stored(tv)
    signer = Signer(key, salt="idplus.sso-session")
    for stolen in (row["id"], row["handle_hash"]):
        assert not _reaches_the_session(tv, signer.sign(stolen).decode())


def test_the_sid_in_tokens_is_not_the_cookie_handle(tv: Harness) -> None:
    code = code_from_login(tv, "tv")
    id_token = exchange_code(tv, code, "tv").json()["id_token"]
    keys = KeySet.import_key_set(tv.http.get("/.well-known/jwks.json").json())
    sid = jwt.decode(id_token, keys).claims["sid"]
    handle = _sso_cookie(tv).rsplit(".", 1)[0]
    assert sid != handle
    _, (row,) = _stored(tv)
    assert sid == row["id"]
    assert handle not in {row["id"], row["handle_hash"]}


def test_step_up_gives_a_new_session_cookie_and_keeps_the_sid(tv: Harness) -> None:
    browser = tv.browser()
    browser.get(tv.authorize_url("tv"))
    tv.login(browser)
    before = _sso_cookie(tv)
    browser.get(tv.authorize_url("tv", acr_values=AAL2))
    browser.submit(button=("action", "send"))
    done = browser.submit({"otp": tv.outbox()[-1]["code"]}, ("action", "verify"))
    assert "code" in redirect_params(done)
    after = _sso_cookie(tv)
    assert after != before
    assert not _reaches_the_session(tv, before)
    assert _reaches_the_session(tv, after)
    _, rows = _stored(tv)
    assert len(rows) == 1  # the same session (and so the same public sid) throughout


def test_a_planted_browser_cookie_is_replaced_by_one_the_server_signed(tv: Harness) -> None:
    tv.http.cookies.set("idplus_browser", "chosen-by-the-attacker")
    response = tv.http.get(tv.authorize_url("tv"))
    planted = [c for c in response.headers.get_list("set-cookie") if "idplus_browser=" in c]
    assert planted, "an unsigned browser cookie must not be taken as the browser's id"
    assert "chosen-by-the-attacker" not in planted[0]


def test_a_browser_id_seen_before_the_login_is_worthless_after_it(tv: Harness) -> None:
    """Login CSRF / fixation: whoever knew the browser id (and so its CSRF token) before the
    login must not be able to post the signed-in user's forms."""
    browser = tv.browser()
    login_page = browser.get(tv.authorize_url("tv"))
    old_cookie = tv.http.cookies["idplus_browser"]
    old_token = parse_forms(login_page.text)[0].fields["csrf_token"]
    tv.login(browser)
    assert tv.http.cookies["idplus_browser"] != old_cookie
    # A cross-site form posted from the victim's browser carries its new cookie.
    forged = tv.http.post("/logout", data={"csrf_token": old_token, "action": "logout"})
    assert forged.status_code == 403
    assert _reaches_the_session(tv, _sso_cookie(tv))


@pytest.mark.parametrize("token", ["ø", "\u2603" * 40, "a\x00b"])
def test_a_non_ascii_csrf_token_is_a_form_error_not_a_server_error(tv: Harness, token: str) -> None:
    tv.http.get(tv.authorize_url("tv"))
    for path in ("/login", "/logout", "/account", "/device"):
        answer = tv.http.post(path, data={"csrf_token": token, "interaction": "x"})
        assert answer.status_code == 403, (path, answer.status_code)


@pytest.fixture
def https_harness(sqlite_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Harness]:
    settings = Settings(
        issuer="https://id.example.no",
        database_url=sqlite_url,
        outbox=tmp_path / "outbox.jsonl",
        secret_key="a-cookie-key-from-the-environment",
        key_encryption_key="a-key-encryption-key-from-the-environment",
    )
    app = create_app(settings, clock=clock)
    with TestClient(app, base_url=settings.issuer, follow_redirects=False) as http:
        harness = Harness(http, settings, clock)
        harness.add_client("tv", silent_sso=True)
        harness.add_user()
        yield harness


def test_cookies_of_an_https_issuer_have_host_prefixed_names(https_harness: Harness) -> None:
    """`__Host-` cookies can be set only by this host, over https, for the whole path: no
    sibling subdomain and no plain-http page can plant one."""
    h = https_harness
    browser = h.browser()
    browser.get(h.authorize_url("tv"))
    response = h.login(browser)
    cookies = response.headers.get_list("set-cookie")
    names = {c.split("=", 1)[0] for c in cookies}
    assert "__Host-idplus_browser" in names
    assert any(n.startswith("__Host-idplus_sso") for n in names)
    assert all(n.startswith("__Host-") for n in names)
    for cookie in cookies:
        lowered = cookie.lower()
        assert "secure" in lowered
        assert "path=/" in lowered
        assert "domain=" not in lowered
