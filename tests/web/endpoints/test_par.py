"""POST /connect/par (RFC 9126) over HTTP, and /connect/authorize taking the pushed request."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from structlog.testing import capture_logs

from idplus.config import Settings
from idplus.protocol.authorize import PAR_REQUIRED, PUSHED_REQUEST_GONE, PUSHED_REQUEST_MALFORMED
from idplus.protocol.pushed_request import REQUEST_URI_PREFIX
from tests.harness import (
    CALLBACK,
    VERIFIER,
    Harness,
    basic,
    exchange_code,
    redirect_params,
    s256,
)

SECRET = "bank-secret-bank-secret"


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    """Both databases: the pushed request is stored and taken back on each."""
    return settings.model_copy(update={"database_url": database_url})


@pytest.fixture
def bank(harness: Harness) -> Harness:
    harness.add_client("bank", client_type="Confidential", secret=SECRET,
                       scopes=["openid", "profile"])  # fmt: skip
    harness.add_client("spa")
    harness.add_user()
    return harness


def _request(**overrides: str) -> dict[str, str]:
    form = {
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "openid profile",
        "state": "st-9",
        "nonce": "n-9",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v != ""}


def _push(h: Harness, client_id: str = "bank", secret: str | None = SECRET, **form: str) -> Any:
    headers = basic(client_id, secret) if secret else {}
    body = _request(**form) if secret else {"client_id": client_id, **_request(**form)}
    return h.http.post("/connect/par", data=body, headers=headers)


def _request_uri(h: Harness, client_id: str = "bank", **form: str) -> str:
    secret = SECRET if client_id == "bank" else None
    pushed = _push(h, client_id, secret, **form)
    assert pushed.status_code == 201, pushed.text
    request_uri: str = pushed.json()["request_uri"]
    return request_uri


def _authorize(h: Harness, client_id: str, request_uri: str, **extra: str) -> Any:
    query = urlencode({"client_id": client_id, "request_uri": request_uri, **extra})
    return h.browser().get(f"/connect/authorize?{query}")


def _error_page(response: Any) -> str:
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "text/html" in response.headers["content-type"]
    return html.unescape(response.text)


def test_a_push_answers_201_with_a_request_uri_and_no_store(bank: Harness) -> None:
    pushed = _push(bank)

    assert pushed.status_code == 201
    assert pushed.headers["cache-control"] == "no-store"
    body = pushed.json()
    assert set(body) == {"request_uri", "expires_in"}
    assert body["expires_in"] == 60
    assert body["request_uri"].startswith(REQUEST_URI_PREFIX)


def test_client_secret_post_and_a_public_client_id_authenticate_too(bank: Harness) -> None:
    form = {"client_id": "bank", "client_secret": SECRET, **_request()}
    post = bank.http.post("/connect/par", data=form)
    public = _push(bank, "spa", None, scope="openid")

    assert (post.status_code, public.status_code) == (201, 201)


@pytest.mark.parametrize(
    ("headers", "form"),
    [
        ({}, {"client_id": "bank"}),
        (basic("bank", "wrong-secret-wrong-secret"), {}),
        (basic("nobody", SECRET), {}),
        ({}, {"client_id": "spa", "client_secret": "public-has-none-public"}),
        ({}, {}),
    ],
)
def test_a_client_that_does_not_authenticate_gets_401_invalid_client(
    bank: Harness, headers: dict[str, str], form: dict[str, str]
) -> None:
    refused = bank.http.post("/connect/par", data={**form, **_request()}, headers=headers)

    assert refused.status_code == 401
    assert refused.json() == {
        "error": "invalid_client", "error_description": "client authentication failed"
    }  # fmt: skip
    if headers:
        assert refused.headers["www-authenticate"].startswith("Basic ")


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"request_uri": REQUEST_URI_PREFIX + "A" * 43}, "invalid_request"),
        ({"redirect_uri": "https://evil.example/cb"}, "invalid_request"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"response_type": "banana"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unauthorized_client"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
    ],
)
def test_errors_at_push_time_go_to_the_client_as_json(
    bank: Harness, form: dict[str, str], error: str
) -> None:
    with capture_logs() as logs:
        refused = _push(bank, **form)

    assert refused.status_code == 400
    assert refused.headers["cache-control"] == "no-store"
    assert refused.json()["error"] == error
    (logged,) = [entry for entry in logs if entry["event"] == "par_refused"]
    assert (logged["client_id"], logged["error"]) == ("bank", error)
    assert SECRET not in str(logs)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded"),
        (b'{"client_id": "bank"}', "application/json"),
        (b"client_id=bank%00&scope=openid", "application/x-www-form-urlencoded"),
        (b"client_id=" + b"a" * 5000, "application/x-www-form-urlencoded"),
        (b"=&&==&client_id", "application/x-www-form-urlencoded"),
    ],
)
def test_garbage_bodies_get_an_rfc_error_never_a_5xx(
    bank: Harness, content: bytes, content_type: str
) -> None:
    refused = bank.http.post("/connect/par", content=content,
                             headers={"content-type": content_type})  # fmt: skip

    assert refused.status_code in (400, 401)
    assert refused.json()["error"] in ("invalid_request", "invalid_client")


def test_a_body_larger_than_the_limit_is_refused_with_413(bank: Harness) -> None:
    limit = bank.settings.max_body_bytes
    headers = {"content-type": "application/x-www-form-urlencoded"}
    refused = bank.http.post("/connect/par", content=b"a=" + b"b" * limit, headers=headers)
    assert refused.status_code == 413


def test_only_post_is_allowed(bank: Harness) -> None:
    assert bank.http.get("/connect/par").status_code == 405


def test_discovery_names_the_endpoint_and_leaves_par_optional_server_wide(bank: Harness) -> None:
    document = bank.http.get("/.well-known/openid-configuration").json()

    assert (
        document["pushed_authorization_request_endpoint"] == f"{bank.settings.issuer}/connect/par"
    )
    assert document["require_pushed_authorization_requests"] is False
    # Only pushed requests' URIs: a request object by reference is not supported.
    assert document["request_uri_parameter_supported"] is False


def test_push_authorize_login_code_and_token(bank: Harness) -> None:
    request_uri = _request_uri(bank)
    browser = bank.browser()

    login_page = browser.get(f"/connect/authorize?client_id=bank&request_uri={request_uri}")
    assert 'name="password"' in login_page.text
    answer = redirect_params(bank.login(browser))

    assert (answer["state"], answer["iss"]) == ("st-9", bank.settings.issuer)
    tokens = exchange_code(bank, answer["code"], "bank", SECRET)
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["scope"] == "openid profile"


def test_a_request_uri_serves_once(bank: Harness) -> None:
    request_uri = _request_uri(bank)
    assert _authorize(bank, "bank", request_uri).status_code == 200

    page = _error_page(_authorize(bank, "bank", request_uri))

    assert PUSHED_REQUEST_GONE in page


def test_another_clients_request_uri_gives_an_error_page(bank: Harness) -> None:
    request_uri = _request_uri(bank)

    with capture_logs() as logs:
        page = _error_page(_authorize(bank, "spa", request_uri))

    assert PUSHED_REQUEST_GONE in page
    (logged,) = [entry for entry in logs if entry["event"] == "authorize_refused"]
    assert logged["client_id"] == "spa"
    assert "invalid_request_uri" in logged["reason"]
    assert request_uri.removeprefix(REQUEST_URI_PREFIX) not in str(logs)


def test_an_expired_request_uri_gives_an_error_page(bank: Harness) -> None:
    request_uri = _request_uri(bank)
    bank.clock.advance(timedelta(seconds=61))

    assert PUSHED_REQUEST_GONE in _error_page(_authorize(bank, "bank", request_uri))


@pytest.mark.parametrize(
    "request_uri",
    [REQUEST_URI_PREFIX, REQUEST_URI_PREFIX + "x", REQUEST_URI_PREFIX + "%" * 50,
     REQUEST_URI_PREFIX + "a" * 4000],
)  # fmt: skip
def test_a_malformed_request_uri_gives_an_error_page(bank: Harness, request_uri: str) -> None:
    assert PUSHED_REQUEST_MALFORMED in _error_page(_authorize(bank, "bank", request_uri))


def test_an_unknown_request_uri_gives_an_error_page(bank: Harness) -> None:
    page = _error_page(_authorize(bank, "bank", REQUEST_URI_PREFIX + "Z" * 43))
    assert PUSHED_REQUEST_GONE in page


def test_front_channel_parameters_cannot_change_the_pushed_request(bank: Harness) -> None:
    request_uri = _request_uri(bank)
    browser = bank.browser()
    browser.get("/connect/authorize?" + urlencode({
        "client_id": "bank", "request_uri": request_uri, "redirect_uri": "https://evil.example/cb",
        "state": "forged", "scope": "openid offline_access",
    }))  # fmt: skip

    answer = redirect_params(bank.login(browser))

    assert answer["state"] == "st-9"


def test_a_require_par_client_is_refused_a_plain_request_at_its_redirect_uri(
    harness: Harness,
) -> None:
    harness.add_client("strict", client_type="Confidential", secret=SECRET,
                       require_pushed_authorization_requests=True)  # fmt: skip
    harness.add_user()

    plain = harness.http.get(harness.authorize_url("strict"))

    assert redirect_params(plain) == {
        "error": "invalid_request", "error_description": PAR_REQUIRED,
        "state": "st-123", "iss": harness.settings.issuer,
    }  # fmt: skip
    request_uri = _push(harness, "strict", scope="openid").json()["request_uri"]
    browser = harness.browser()
    browser.get(f"/connect/authorize?client_id=strict&request_uri={request_uri}")
    assert "code" in redirect_params(harness.login(browser))
