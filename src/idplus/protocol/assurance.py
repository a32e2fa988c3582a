"""Authentication assurance: acr levels and amr values of SPEC §6."""

from __future__ import annotations

from idplus.policies import ACR_PREFIX, MAX_AAL, acr_for_level, level_of_acr

AMR_PASSWORD = "urn:telenor.identity.amr.td_pwd"
AMR_SMS_OTP = "urn:telenor.identity.amr.td_otp"
# A passkey with user verification: something the user has, unlocked by something they know
# or are (protocol/passkeys).
AMR_PASSKEY = "urn:telenor.identity.amr.passkey"
IDP_PREFIX = "idp:"


def level_of_amr(amr: tuple[str, ...]) -> int:
    """Two distinct factors make level 2; one makes level 1. A passkey (always with user
    verification) is two factors on its own; its level 3 comes from its attestation, which the
    amr does not tell (protocol/passkeys: `VerifiedPasskey.acr`)."""
    if AMR_PASSKEY in amr:
        return 2
    return 2 if AMR_PASSWORD in amr and AMR_SMS_OTP in amr else (1 if amr else 0)


__all__ = [
    "ACR_PREFIX",
    "AMR_PASSKEY",
    "AMR_PASSWORD",
    "AMR_SMS_OTP",
    "IDP_PREFIX",
    "MAX_AAL",
    "acr_for_level",
    "level_of_acr",
    "level_of_amr",
]
