"""Authentication assurance: acr levels and amr values of SPEC §6."""

from __future__ import annotations

ACR_PREFIX = "urn:telenor.identity.aal."
AMR_PASSWORD = "urn:telenor.identity.amr.td_pwd"
AMR_SMS_OTP = "urn:telenor.identity.amr.td_otp"
IDP_PREFIX = "idp:"
MAX_AAL = 3


def acr_for_level(level: int) -> str:
    return f"{ACR_PREFIX}{level}"


def level_of_acr(acr: str | None) -> int:
    """1-3 for a known acr value, 0 for anything else."""
    if acr is None or not acr.startswith(ACR_PREFIX):
        return 0
    suffix = acr[len(ACR_PREFIX) :]
    return int(suffix) if suffix.isdigit() and 1 <= int(suffix) <= MAX_AAL else 0


def level_of_amr(amr: tuple[str, ...]) -> int:
    """Two distinct factors make level 2; one makes level 1."""
    return 2 if AMR_PASSWORD in amr and AMR_SMS_OTP in amr else (1 if amr else 0)
