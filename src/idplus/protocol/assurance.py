"""Authentication assurance: acr levels and amr values of SPEC §6."""

from __future__ import annotations

from idplus.policies import ACR_PREFIX, MAX_AAL, acr_for_level, level_of_acr

AMR_PASSWORD = "urn:telenor.identity.amr.td_pwd"
AMR_SMS_OTP = "urn:telenor.identity.amr.td_otp"
IDP_PREFIX = "idp:"


def level_of_amr(amr: tuple[str, ...]) -> int:
    """Two distinct factors make level 2; one makes level 1."""
    return 2 if AMR_PASSWORD in amr and AMR_SMS_OTP in amr else (1 if amr else 0)


__all__ = [
    "ACR_PREFIX",
    "AMR_PASSWORD",
    "AMR_SMS_OTP",
    "IDP_PREFIX",
    "MAX_AAL",
    "acr_for_level",
    "level_of_acr",
    "level_of_amr",
]
