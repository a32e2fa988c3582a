"""What the portal and the console share: the vendored htmx, served for a year under a digest
URL and run only with the page's CSP nonce and its own digest, configured to add no inline
style and run no eval; the built-in clients' callback pages; the gate that sends a locked user
away."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import idplus.ui
from tests.harness import Harness
from tests.ui.staff_browser import DEVELOPER, StaffBrowser, add_people, lock_in_store

TEMPLATES = Path(idplus.ui.__file__).parent / "templates"


def test_htmx_is_served_for_a_year_with_its_licence(harness: Harness) -> None:
    response = harness.http.get("/static/htmx.min.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.text.startswith("/*! htmx 2.")
    assert "Zero-Clause BSD" in response.text.splitlines()[0]


def test_pages_load_htmx_by_digest_with_the_csp_nonce(harness: Harness) -> None:
    add_people(harness, DEVELOPER)
    page = StaffBrowser(harness).login(DEVELOPER)
    body = harness.http.get("/static/htmx.min.js").content
    (src, integrity, nonce) = re.findall(
        r'<script src="([^"]+)" integrity="([^"]+)" nonce="([^"]+)" defer></script>', page.text
    )[0]
    assert src == f"/static/htmx.min.js?v={hashlib.sha256(body).hexdigest()[:16]}"
    assert integrity == "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()
    policy = page.headers["content-security-policy"]
    assert f"script-src 'nonce-{nonce}'" in policy
    assert "unsafe" not in policy
    # htmx adds no <style> of its own (the CSP would refuse it) and runs no eval.
    (config,) = re.findall(r"<meta name=\"htmx-config\" content='([^']+)'>", page.text)
    assert '"includeIndicatorStyles":false' in config
    assert '"allowEval":false' in config
    assert '"historyCacheSize":0' in config  # no copy of a page (a secret) in the browser


def test_no_template_uses_hx_on_or_inline_handlers() -> None:
    """hx-on and on…= attributes need eval or 'unsafe-inline': the CSP refuses both."""
    for template in [*TEMPLATES.glob("portal/*.html"), *TEMPLATES.glob("console/*.html"),
                     *TEMPLATES.glob("staff/*.html")]:  # fmt: skip
        text = template.read_text()
        assert "hx-on" not in text, template
        assert not re.search(r"\son[a-z]+=", text), template


def test_the_callback_shows_the_code_and_how_to_redeem_it(harness: Harness) -> None:
    page = harness.http.get("/portal/callback?code=abc-DEF_123&state=s&iss=x")
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "<code>abc-DEF_123</code>" in page.text
    assert "-d client_id=idplus-portal" in page.text
    assert "redirect_uri=http://127.0.0.1:8000/portal/callback" in page.text
    assert "-d code=abc-DEF_123" in page.text
    console = harness.http.get("/admin/callback?code=xyz&locale=nb")
    assert "<h1>Autorisasjonskoden din</h1>" in console.text
    assert "-d client_id=idplus-console" in console.text


def test_the_callback_shows_no_command_a_link_could_have_written(harness: Harness) -> None:
    """The page puts what the address holds into a shell command to copy: only a code of
    idplus's own alphabet goes there."""
    page = harness.http.get("/portal/callback", params={"code": "x; rm -rf ~ #"})
    assert "rm -rf" not in page.text
    assert "There is no code here" in page.text
    assert "client_id=idplus-portal" in page.text  # how to start instead


def test_the_callback_explains_an_error_in_its_own_words(harness: Harness) -> None:
    """Anyone can write a link to the page: a known error code gets idplus's sentence, never
    the link's error_description; an unknown code, a sentence of its own."""
    page = harness.http.get("/portal/callback", params={
        "error": "access_denied", "error_description": "Call +1 555 0100 to unlock your account",
    })  # fmt: skip
    assert "<code>access_denied</code>" in page.text
    assert "The login was cancelled, or the access was refused." in page.text
    assert "555" not in page.text
    assert "curl" not in page.text
    norwegian = harness.http.get("/admin/callback?error=temporarily_unavailable&locale=nb")
    assert "Innloggingstjenesten er opptatt eller nede en stund." in norwegian.text
    made_up = harness.http.get("/admin/callback", params={
        "error": "Your_account_is_suspended_call_us", "error_description": "Pay here",
    })  # fmt: skip
    assert made_up.status_code == 200
    assert "an error this page does not know" in made_up.text
    assert "suspended" not in made_up.text and "Pay here" not in made_up.text


def test_an_htmx_request_without_a_session_loads_the_login_as_a_whole_page(
    harness: Harness,
) -> None:
    """htmx would swap the login page into the table: it is told to go there instead."""
    add_people(harness, DEVELOPER)
    swap = {"HX-Request": "true"}
    for path in ("/admin/users?q=ab", "/portal?cursor=x"):
        harness.http.cookies.clear()
        answer = harness.http.get(path, headers=swap)
        assert answer.status_code == 200
        assert answer.headers["hx-redirect"].startswith("/login?interaction=")
        assert answer.content == b""
        assert 'name="password"' in harness.http.get(answer.headers["hx-redirect"]).text
    # A whole page (no htmx, or htmx restoring its history) gets the redirect as before.
    assert harness.http.get("/admin/users?q=ab").status_code == 303
    restore = harness.http.get(
        "/admin/users", headers={**swap, "HX-History-Restore-Request": "true"}
    )
    assert restore.status_code == 303


def test_an_htmx_request_the_gate_refuses_reloads_the_whole_page(harness: Harness) -> None:
    """A locked user, a developer at the console, a bad page link: not swapped into a table."""
    add_people(harness, DEVELOPER)
    browser = StaffBrowser(harness)
    browser.login(DEVELOPER)
    swap = {"HX-Request": "true"}
    for path in ("/admin/users?q=ab", "/portal?cursor=%21"):
        answer = browser.get(path, **swap)
        assert (answer.status_code, answer.content) == (200, b"")
        assert answer.headers["hx-redirect"] == path
        assert browser.get(path).status_code in (400, 403)
    lock_in_store(harness, DEVELOPER)
    locked = browser.get("/portal?cursor=", **swap)
    assert locked.headers["hx-redirect"] == "/portal?cursor="
    assert "Your account is locked" in browser.get("/portal").text


def test_a_locked_user_is_sent_away(harness: Harness) -> None:
    add_people(harness, DEVELOPER)
    browser = StaffBrowser(harness)
    browser.login(DEVELOPER)
    lock_in_store(harness, DEVELOPER)
    for path in ("/portal", "/portal/companies/new", "/admin"):
        page = browser.get(path)
        assert page.status_code == 403
        assert "Your account is locked. Ask an operator to unlock it." in page.text
    norwegian = browser.get("/portal?locale=nb")
    assert "Kontoen din er sperret" in norwegian.text
