"""Level 3 with the local provider (issue 18 item 2): where the operator configured attestation
roots, a request for `aal.3` reaches the login page, and only a passkey whose attestation chains
to those roots and that cannot leave its device finishes it; a synced passkey or the password
and SMS code are refused with a message (no code is sent for nothing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from idplus.config import Settings
from tests.harness import PASSWORD, Harness
from tests.ui.test_account import _account
from tests.ui.test_webauthn import (
    ISSUER,
    USER,
    PasskeyLogin,
    _csrf,
    _fresh_login,
    _id_token_claims,
    _post,
)
from tests.webauthn_authenticator import AttestationCa, SoftwareAuthenticator

AAL3 = "urn:telenor.identity.aal.3"


@pytest.fixture
def ca() -> AttestationCa:
    return AttestationCa()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, ca: AttestationCa) -> Settings:
    roots = tmp_path / "roots.pem"
    roots.write_bytes(ca.root_pem)
    return Settings(
        issuer=ISSUER,
        database_url=database_url,
        outbox=tmp_path / "outbox.jsonl",
        webauthn_attestation_roots=roots,
    )


@pytest.fixture
def h(harness: Harness) -> Harness:
    harness.add_client("spa")
    harness.add_user(USER)
    return harness


def _add(h: Harness, authenticator: SoftwareAuthenticator, **create: Any) -> None:
    _, page = _account(h)
    options = _post(h, "/webauthn/register/options?locale=en", {}, _csrf(page))
    if options.status_code == 403:
        page = _fresh_login(h, options.json()["redirect"])
        options = _post(h, "/webauthn/register/options?locale=en", {}, _csrf(page))
    credential = authenticator.create(options.json(), **create)
    added = _post(h, "/webauthn/register/verify", {"credential": credential}, _csrf(page))
    assert added.status_code == 200, added.text
    h.http.cookies.clear()


def test_a_hardware_passkey_reaches_level_3(h: Harness, ca: AttestationCa) -> None:
    key = SoftwareAuthenticator(origin=ISSUER)
    _add(h, key, attestation="full", ca=ca)

    finished = PasskeyLogin(h, acr_values=AAL3).finish(key)

    assert _id_token_claims(h, finished)["acr"] == AAL3


def test_a_synced_passkey_is_refused_for_level_3(h: Harness, ca: AttestationCa) -> None:
    synced = SoftwareAuthenticator(origin=ISSUER, backup_eligible=True, sign_count_step=0)
    _add(h, synced, attestation="full", ca=ca)
    login = PasskeyLogin(h, acr_values=AAL3)

    refused = login.verify(synced.get(login.options()))

    assert refused.status_code == 400
    assert refused.json()["error"] == "level_too_low"
    assert "security key" in refused.json()["error_description"]
    assert "code" not in str(h.http.get(f"/login?interaction={login.handle}").url)


def test_password_and_sms_are_refused_for_level_3_without_sending_a_code(h: Harness) -> None:
    login = PasskeyLogin(h, acr_values=AAL3)
    sent = len(h.outbox())

    answer = login.browser.submit({"username": USER, "password": PASSWORD},
                                  ("action", "login"))  # fmt: skip

    assert answer.status_code == 400
    assert "security key" in answer.text
    assert len(h.outbox()) == sent


def test_the_roots_are_read_once_at_start(
    h: Harness, ca: AttestationCa, settings: Settings
) -> None:
    assert settings.webauthn_attestation_roots is not None
    settings.webauthn_attestation_roots.unlink()  # moved or unreadable after start
    key = SoftwareAuthenticator(origin=ISSUER)
    _add(h, key, attestation="full", ca=ca)

    finished = PasskeyLogin(h, acr_values=AAL3).finish(key)

    assert _id_token_claims(h, finished)["acr"] == AAL3


def test_a_session_at_level_2_steps_up_to_level_3_only_with_a_hardware_passkey(
    h: Harness, ca: AttestationCa
) -> None:
    """The step-up page's SMS code cannot reach level 3: asking for one says so and sends
    nothing; the hardware passkey instead finishes the login at aal.3."""
    key = SoftwareAuthenticator(origin=ISSUER)
    _add(h, key, attestation="full", ca=ca)
    level_2 = PasskeyLogin(h, acr_values="urn:telenor.identity.aal.2")
    level_2.browser.submit({"username": USER, "password": PASSWORD}, ("action", "login"))
    level_2.browser.submit({"otp": h.outbox()[-1]["code"]}, ("action", "verify"))
    sent = len(h.outbox())

    login = PasskeyLogin(h, acr_values=AAL3)
    assert "Extra verification" in login.page.text
    refused = login.browser.submit({}, ("action", "send"))
    assert refused.status_code == 400 and "security key" in refused.text
    assert len(h.outbox()) == sent

    finished = h.http.get(login.verify(key.get(login.options())).json()["redirect"])
    assert _id_token_claims(h, finished)["acr"] == AAL3
