"""Who idplus is to an authenticator: the rp id, the one origin accepted, and the issuers
browsers refuse WebAuthn for (issue 18 item 1), said once at start."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from idplus.config import Settings
from idplus.protocol.passkeys.errors import PasskeyProblem
from idplus.protocol.passkeys.relying_party import (
    log_passkey_availability,
    relying_party,
    unavailable_reason,
)


@pytest.mark.parametrize(
    ("issuer", "rp_id", "rp", "origin"),
    [
        ("http://localhost:8000", None, "localhost", "http://localhost:8000"),
        ("https://id.telenor.no", None, "id.telenor.no", "https://id.telenor.no"),
        ("https://id.telenor.no:443/idp", None, "id.telenor.no", "https://id.telenor.no"),
        ("https://id.telenor.no:8443", "telenor.no", "telenor.no", "https://id.telenor.no:8443"),
    ],
)
def test_the_rp_id_and_origin_follow_the_issuer(
    issuer: str, rp_id: str | None, rp: str, origin: str
) -> None:
    party = relying_party(Settings(issuer=issuer, webauthn_rp_id=rp_id))

    assert (party.id, party.name, party.origin) == (rp, "Telenor ID", origin)
    assert not party.wants_attestation


@pytest.mark.parametrize(
    ("issuer", "why"),
    [
        ("http://127.0.0.1:8000", "IP address"),
        ("https://[::1]:8443", "IP address"),
        ("https://10.0.0.5", "IP address"),
        ("http://id.example.no", "only on localhost"),
    ],
)
def test_issuers_browsers_refuse_have_no_passkeys(issuer: str, why: str) -> None:
    settings = Settings(issuer=issuer)

    with pytest.raises(PasskeyProblem) as refused:
        relying_party(settings)

    assert refused.value.reason.value == "unavailable"
    assert why in (unavailable_reason(settings) or "")


def test_the_start_says_once_why_passkeys_are_off() -> None:
    with capture_logs() as logs:
        log_passkey_availability(Settings(issuer="http://127.0.0.1:8000"))
        log_passkey_availability(Settings(issuer="http://localhost:8000"))

    assert [(e["log_level"], e["event"]) for e in logs] == [
        ("warning", "passkeys_unavailable"),
        ("info", "passkeys_available"),
    ]
    assert "IP address" in logs[0]["reason"]
    assert logs[1]["rp_id"] == "localhost"
