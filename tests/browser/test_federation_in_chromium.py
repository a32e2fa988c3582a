"""Federation in a real browser: the RP's selection page, a second idplus as the upstream's login
page, back at the RP with a code; then SSO for a second client without visiting the upstream."""

from __future__ import annotations

import base64
import json
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, expect

from tests.harness import VERIFIER, s256
from tests.live_server import LiveServer, RelyingParty, run_live_server, run_relying_party

UPSTREAM_SECRET = "upstream-client-secret-0123456789"
RP_SECRET = "rp-client-secret-0123456789abcdef"
UPSTREAM_ACR = "urn:telenor.identity.aal.2"
UPSTREAM_AMR = "ext"
# The selection page is left here for a person to look at (Norwegian; English with "-en").
SCREENSHOT = Path(tempfile.gettempdir(), "federation-selection.png")

# ui_locales → the texts the pages must show in that language.
TEXTS = {
    "no": {
        "heading": "Velg hvordan du vil logge inn",
        "local": "Mobilnummer eller e-post",
        "username": "Mobilnummer eller e-post",
        "password": "Passord",
        "login": "Logg inn",
        "cancel": "Avbryt",
    },
    "en": {
        "heading": "Choose how to log in",
        "local": "Mobile number or e-mail",
        "username": "Mobile number or e-mail",
        "password": "Password",
        "login": "Log in",
        "cancel": "Cancel",
    },
}


@dataclass
class Federation:
    local: LiveServer
    upstream: LiveServer
    party: RelyingParty


@contextmanager
def _two_servers(tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    """The RP's idplus and the upstream, started side by side (each takes seconds)."""
    starts = [
        contextmanager(run_live_server)(tmp_path / "local"),
        # Another loopback address: its cookies stay apart from the first server's.
        contextmanager(run_live_server)(tmp_path / "upstream", host="127.0.0.2"),
    ]
    with ExitStack() as stack:
        with ThreadPoolExecutor(len(starts)) as pool:
            started = [pool.submit(start.__enter__) for start in starts]
        for start, future in zip(starts, started, strict=True):
            if future.exception() is None:
                stack.push(start)
        local, upstream = (future.result() for future in started)
        yield local, upstream


def _set_up_upstream(local: LiveServer, upstream: LiveServer) -> None:
    upstream.idplus("client", "add", "--client-id", "hub", "--type", "Confidential",
                    "--secret", UPSTREAM_SECRET,
                    "--redirect-uri", f"{local.base_url}/federation/up/callback")  # fmt: skip
    upstream.idplus("user", "add", "--username", "kari@example.no",
                    "--password", "hunter2hunter")  # fmt: skip


def _set_up_local(local: LiveServer, upstream: LiveServer, party: RelyingParty) -> None:
    local.idplus("provider", "add", "--id", "up", "--issuer", upstream.base_url,
                 "--client-id", "hub", "--client-secret", UPSTREAM_SECRET,
                 "--display-name", "Telenor ID", "--amr", UPSTREAM_AMR,
                 "--acr", UPSTREAM_ACR)  # fmt: skip
    for client_id, name, flags in (
        ("rp", "Min Side", ()),
        ("rp-sso", "Mitt Abonnement", ("--silent-sso",)),
    ):
        local.idplus("client", "add", "--client-id", client_id, "--type", "Confidential",
                     "--secret", RP_SECRET, "--redirect-uri", party.callback,
                     "--name", name, "--one-telenor", *flags,
                     "--provider", "local", "--provider", "up")  # fmt: skip


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """Both servers and the RP once for the module: each test gets a fresh browser context."""
    with (
        contextmanager(run_relying_party)() as party,
        _two_servers(tmp_path_factory.mktemp("federation")) as (local, upstream),
    ):
        with ThreadPoolExecutor(1) as pool:
            upstream_ready = pool.submit(_set_up_upstream, local, upstream)
            _set_up_local(local, upstream, party)
            upstream_ready.result()
        yield Federation(local, upstream, party)


def _authorize_url(fed: Federation, client_id: str, state: str, **extra: str) -> str:
    params = {
        "client_id": client_id,
        "redirect_uri": fed.party.callback,
        "response_type": "code",
        "scope": "openid",
        "state": state,
        "nonce": f"nonce-{state}",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        **extra,
    }
    return f"{fed.local.base_url}/connect/authorize?{urlencode(params)}"


def _back_at_client(page: Page, fed: Federation, state: str) -> str:
    page.wait_for_url(f"{fed.party.callback}?*")
    expect(page.locator("#done")).to_be_visible()
    received = fed.party.received[-1]
    assert received["state"] == state
    assert "error" not in received
    return received["code"]


def _id_token_claims(fed: Federation, client_id: str, code: str) -> dict[str, Any]:
    tokens = httpx.post(
        f"{fed.local.base_url}/connect/token",
        auth=(client_id, RP_SECRET),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": fed.party.callback,
            "code_verifier": VERIFIER,
        },
        timeout=10,
    )
    assert tokens.status_code == 200, tokens.text
    payload = tokens.json()["id_token"].split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    assert claims["iss"] == fed.local.base_url
    assert claims["aud"] in (client_id, [client_id])
    return claims


@pytest.mark.parametrize("ui_locales", ["no", "en"])
def test_login_through_the_upstream_then_sso_for_a_second_client(
    chromium: Browser, federation: Federation, ui_locales: str
) -> None:
    fed, texts = federation, TEXTS[ui_locales]
    context = chromium.new_context()
    requested: list[str] = []

    def record(request: Request) -> None:
        requested.append(request.url)

    context.on("request", record)
    page = context.new_page()

    state = f"rp-{ui_locales}"
    page.goto(_authorize_url(fed, "rp", state, ui_locales=ui_locales))
    # The RP's own idplus asks which way to log in.
    assert page.url.startswith(fed.local.base_url)
    assert page.locator("html").get_attribute("lang") == ui_locales
    assert page.title() == f"{texts['heading']} · idplus"
    expect(page.get_by_role("heading", name=texts["heading"])).to_be_visible()
    expect(page.get_by_text("Min Side")).to_be_visible()
    local_button = page.locator('button[name="provider"][value="local"]')
    upstream_button = page.locator('button[name="provider"][value="up"]')
    expect(local_button).to_be_visible()
    expect(upstream_button).to_be_visible()
    assert local_button.inner_text() == texts["local"]
    assert upstream_button.inner_text() == "Telenor ID"
    expect(page.get_by_role("button", name=texts["cancel"])).to_be_visible()
    suffix = "" if ui_locales == "no" else f"-{ui_locales}"
    page.screenshot(path=SCREENSHOT.with_stem(SCREENSHOT.stem + suffix), full_page=True)

    upstream_button.click()
    # The upstream idplus's own login page, in the language the RP asked for.
    page.wait_for_url(f"{fed.upstream.base_url}/login?*")
    assert page.locator("html").get_attribute("lang") == ui_locales
    expect(page.get_by_role("heading", name=texts["login"])).to_be_visible()
    page.get_by_label(texts["username"]).fill("kari@example.no")
    page.get_by_label(texts["password"]).fill("hunter2hunter")
    page.get_by_role("button", name=texts["login"], exact=True).click()

    first = _id_token_claims(fed, "rp", _back_at_client(page, fed, state))
    assert first["idp"] == "up"
    assert first["acr"] == UPSTREAM_ACR
    assert first["amr"] == [UPSTREAM_AMR]
    assert first["nonce"] == f"nonce-{state}"
    assert any(url.startswith(fed.upstream.base_url) for url in requested)

    # Same browser, a silent_sso client of the same SSO group: a code at once, no upstream.
    requested.clear()
    sso_state = f"rp-sso-{ui_locales}"
    page.goto(_authorize_url(fed, "rp-sso", sso_state, ui_locales=ui_locales))
    second = _id_token_claims(fed, "rp-sso", _back_at_client(page, fed, sso_state))
    assert requested, "the browser's requests were not recorded"
    assert not [url for url in requested if url.startswith("http://127.0.0.2")], requested
    assert second["idp"] == "up"
    assert second["acr"] == UPSTREAM_ACR
    assert second["amr"] == [UPSTREAM_AMR]
    assert second["sid"] == first["sid"]
    context.close()
