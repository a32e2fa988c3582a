"""The device verification page (RFC 8628 §3.3): what the app may do in words, who is logged
in with "Not you?", the login's QR code for a phone, and /device/qr for devices."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import pytest
import segno

from tests.flows.forms import FormBrowser, parse_forms
from tests.harness import PASSWORD, Harness

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
KARI = "+4790000001"
OLA = "+4790000002"


@pytest.fixture
def tv(harness: Harness) -> Harness:
    harness.add_api_products("api:tv")
    harness.add_client(
        "tv",
        client_type="MobileApp",
        name="Telenor TV",
        api_access=True,
        grant_types=[DEVICE_GRANT, "refresh_token"],
        scopes=["openid", "profile", "offline_access", "api:tv"],
        redirect_uris=[],
    )
    harness.add_user(KARI, given_name="Kari", family_name="Nordmann")
    harness.add_user(OLA)
    return harness


def _authorize(h: Harness, scope: str = "openid profile offline_access") -> dict[str, Any]:
    response = h.http.post("/connect/deviceauthorization", data={"client_id": "tv", "scope": scope})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _poll_error(h: Harness, device_code: str) -> str:
    h.clock.advance(timedelta(seconds=30))
    data = {"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": "tv"}
    return str(h.http.post("/connect/token", data=data).json().get("error"))


def _approval_page(
    h: Harness, user_code: str, username: str = KARI, locale: str = "en"
) -> tuple[FormBrowser, Any]:
    """Type the code on the code page, log in: the approval page."""
    browser = FormBrowser(h.http, "https://nowhere.invalid")
    browser.get(f"/device?ui_locales={locale}")
    page = browser.submit({"user_code": user_code}, ("action", "continue"))
    assert 'name="password"' in page.text, page.text[:400]
    page = browser.submit({"username": username, "password": PASSWORD}, ("action", "login"))
    assert 'value="approve"' in page.text, page.text[:400]
    return browser, page


def _dark_modules(svg: str) -> set[tuple[int, int]]:
    """The dark modules a segno SVG draws: runs of `h` along rows of its path."""
    path = re.search(r"class=[\"']qrline[\"'][^>]* d=[\"']([^\"']+)", svg)
    assert path is not None, svg[:200]
    x = y = 0.0
    dark: set[tuple[int, int]] = set()
    for command, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path.group(1)):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:
            dark.update((int(x) + i, int(y)) for i in range(int(a)))
            x += float(a)
    return dark


def _encodes(svg: str, uri: str) -> bool:
    """Whether the SVG draws the QR code of `uri` (with a 4-module quiet zone)."""
    matrix = segno.make(uri, error="m").matrix
    expected = {(c + 4, r + 4) for r, row in enumerate(matrix) for c, on in enumerate(row) if on}
    return _dark_modules(svg) == expected


def test_the_approval_page_says_what_the_app_may_do_in_words(tv: Harness) -> None:
    started = _authorize(tv, "openid profile offline_access api:tv")
    _, page = _approval_page(tv, started["user_code"])
    assert "Telenor TV will be able to:" in page.text
    for words in (
        "know who you are",
        "see your name and birth date",
        "keep you logged in",
        "use tv on your behalf",
    ):
        assert f"<li>{words}</li>" in page.text
    assert "offline_access" not in page.text
    assert f"Check that your TV or device shows the code {started['user_code']}." in page.text


def test_the_approval_page_in_norwegian(tv: Harness) -> None:
    started = _authorize(tv, "openid profile offline_access api:tv")
    _, page = _approval_page(tv, started["user_code"], locale="no")
    assert '<html lang="no">' in page.text
    assert "Telenor TV får lov til å:" in page.text
    for words in (
        "vite hvem du er",
        "se navnet og fødselsdatoen din",
        "holde deg innlogget",
        "bruke tv på dine vegne",
    ):
        assert f"<li>{words}</li>" in page.text
    assert "Ikke deg?" in page.text


def test_the_approval_page_names_the_user_masking_a_bare_phone_number(tv: Harness) -> None:
    _, kari = _approval_page(tv, _authorize(tv)["user_code"])
    assert "Logged in as Kari Nordmann." in kari.text
    tv.http.cookies.clear()
    _, ola = _approval_page(tv, _authorize(tv)["user_code"], username=OLA)
    assert "Logged in as +47 ••• •• 002." in ola.text
    assert OLA not in ola.text


def test_not_you_ends_the_session_and_logs_in_again_with_the_same_code(tv: Harness) -> None:
    started = _authorize(tv)
    browser, page = _approval_page(tv, started["user_code"])
    karis_cookies = dict(tv.http.cookies)

    login = browser.submit(button=("action", "switch"))
    assert 'name="password"' in login.text
    assert _poll_error(tv, started["device_code"]) == "authorization_pending"
    page = browser.submit({"username": OLA, "password": PASSWORD}, ("action", "login"))
    assert started["user_code"] in page.text
    assert "Logged in as +47 ••• •• 002." in page.text
    assert "Kari" not in page.text

    # Kari's session is over on the server, not only forgotten by this browser.
    tv.http.cookies.clear()
    tv.http.cookies.update(karis_cookies)
    again = tv.http.get(f"/device?user_code={started['user_code']}", follow_redirects=True)
    assert 'value="approve"' not in again.text
    assert 'name="password"' in again.text


def test_an_opened_link_goes_to_the_login_which_offers_a_qr_code_for_a_phone(
    tv: Harness,
) -> None:
    """A script (INTERFACE) or a TV's browser following verification_uri_complete meets the
    login at once; the login page carries the code's QR so the user can go on on a phone."""
    started = _authorize(tv)
    page = tv.http.get(started["verification_uri_complete"], follow_redirects=True)
    assert page.status_code == 200
    assert 'name="password"' in page.text
    image = re.search(r'<img src="data:image/svg\+xml[^,]*,([^"]+)" alt="([^"]+)">', page.text)
    assert image is not None, page.text
    assert image.group(2) == f"QR code that opens this page with the code {started['user_code']}"
    assert _encodes(unquote(image.group(1)), started["verification_uri_complete"])

    norwegian = tv.http.get(
        f"/device?user_code={started['user_code']}&ui_locales=no", follow_redirects=True
    )
    assert f'alt="QR-kode som åpner denne siden med koden {started["user_code"]}"' in (
        norwegian.text
    )
    assert "<img" not in tv.http.get("/device").text
    # An ordinary login has no QR code.
    tv.add_client("spa")
    ordinary = tv.http.get(tv.authorize_url(), follow_redirects=True)
    assert 'name="password"' in ordinary.text
    assert "<img" not in ordinary.text


def test_a_logged_in_user_opening_the_link_goes_straight_to_the_approval(tv: Harness) -> None:
    browser, _ = _approval_page(tv, _authorize(tv)["user_code"])
    second = _authorize(tv)
    assert 'value="approve"' in browser.get(second["verification_uri_complete"]).text


def test_a_typed_code_continues_to_the_login_in_the_page_language(tv: Harness) -> None:
    started = _authorize(tv)
    browser = FormBrowser(tv.http, "https://nowhere.invalid")
    form_page = browser.get("/device?ui_locales=no")
    (form,) = parse_forms(form_page.text)
    assert "csrf_token" in form.fields
    assert 'method="post"' in form_page.text
    login = browser.submit({"user_code": started["user_code"]}, ("action", "continue"))
    assert "Passord" in login.text


def test_the_code_form_needs_the_csrf_token(tv: Harness) -> None:
    started = _authorize(tv)
    tv.http.get("/device")
    forged = tv.http.post("/device", data={"user_code": started["user_code"]})
    assert forged.status_code == 403


def test_a_post_without_an_action_denies_nothing(tv: Harness) -> None:
    started = _authorize(tv)
    _, page = _approval_page(tv, started["user_code"])
    (form,) = parse_forms(page.text)
    answer = tv.http.post(form.action, data=form.fields)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/device?user_code=")
    assert _poll_error(tv, started["device_code"]) == "authorization_pending"


def test_qr_of_a_pending_code_is_an_svg_of_the_complete_uri(tv: Harness) -> None:
    started = _authorize(tv)
    digits = started["user_code"].replace("-", "")
    for code in (started["user_code"], digits):
        answer = tv.http.get("/device/qr", params={"user_code": code})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("image/svg+xml")
        assert answer.headers["cache-control"] == "no-store"
        assert answer.text.startswith("<?xml")
        assert 'xmlns="http://www.w3.org/2000/svg"' in answer.text
        assert _encodes(answer.text, started["verification_uri_complete"])


def test_qr_is_404_without_detail_for_anything_but_a_pending_code(tv: Harness) -> None:
    approved, denied, expired = _authorize(tv), _authorize(tv), _authorize(tv)
    browser, _ = _approval_page(tv, approved["user_code"])
    browser.submit(button=("action", "approve"))
    browser.get(f"/device?user_code={denied['user_code']}")
    browser.submit(button=("action", "deny"))
    tv.clock.advance(timedelta(seconds=1801))
    for code in (
        approved["user_code"],
        denied["user_code"],
        expired["user_code"],
        "000-000-000",
        "abc",
        "",
        "1" * 5000,
    ):
        answer = tv.http.get("/device/qr", params={"user_code": code})
        assert (answer.status_code, answer.content) == (404, b""), code[:20]
        assert answer.headers["cache-control"] == "no-store"
    assert tv.http.get("/device/qr").status_code == 404


def test_qr_guesses_count_against_the_code_guessing_budget(tv: Harness) -> None:
    started = _authorize(tv)
    for _ in range(10):
        assert tv.http.get("/device/qr?user_code=000-000-000").status_code == 404
    throttled = tv.http.get("/device/qr", params={"user_code": started["user_code"]})
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    assert tv.http.get("/device", params={"user_code": started["user_code"]}).status_code == 429


def test_discovery_advertises_no_qr_endpoint(tv: Harness) -> None:
    document = tv.http.get("/.well-known/openid-configuration").text
    assert "/device/qr" not in document
