"""The passkey settings are checked at start: an rp id browsers would refuse for the issuer,
or an attestation-roots file without certificates, stops the server with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from idplus.config import Settings
from tests.webauthn_authenticator import AttestationCa


@pytest.mark.parametrize("rp_id", ["id.telenor.no", "telenor.no", "TELENOR.no"])
def test_the_rp_id_is_the_issuers_host_or_a_parent_domain(rp_id: str) -> None:
    settings = Settings(issuer="https://id.telenor.no", webauthn_rp_id=rp_id)

    assert settings.webauthn_rp_id == rp_id.lower()


@pytest.mark.parametrize(
    "rp_id", ["example.com", "elenor.no", "other.id.telenor.no", "https://telenor.no", "a:1", ""]
)
def test_any_other_rp_id_is_refused(rp_id: str) -> None:
    with pytest.raises(ValidationError, match="webauthn_rp_id"):
        Settings(issuer="https://id.telenor.no", webauthn_rp_id=rp_id)


def test_attestation_roots_must_be_pem_certificates(tmp_path: Path) -> None:
    roots, empty = tmp_path / "roots.pem", tmp_path / "empty.pem"
    roots.write_bytes(AttestationCa().root_pem + AttestationCa("Second").root_pem)
    empty.write_text("not a certificate\n")

    assert Settings(webauthn_attestation_roots=roots).webauthn_attestation_roots == roots
    with pytest.raises(ValidationError, match="holds no PEM certificate"):
        Settings(webauthn_attestation_roots=empty)
    with pytest.raises(ValidationError, match="cannot read"):
        Settings(webauthn_attestation_roots=tmp_path / "missing.pem")
