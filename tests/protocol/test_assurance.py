"""acr levels and amr values (SPEC §6)."""

from __future__ import annotations

from idplus.protocol.assurance import (
    AMR_PASSWORD,
    AMR_SMS_OTP,
    acr_for_level,
    level_of_acr,
    level_of_amr,
)


def test_acr_levels_round_trip_and_unknown_values_are_level_zero() -> None:
    assert acr_for_level(2) == "urn:telenor.identity.aal.2"
    assert level_of_acr("urn:telenor.identity.aal.3") == 3
    assert level_of_acr("urn:telenor.identity.aal.9") == 0
    assert level_of_acr("urn:other") == 0
    assert level_of_acr(None) == 0


def test_password_is_one_factor_and_password_plus_sms_two() -> None:
    assert level_of_amr((AMR_PASSWORD,)) == 1
    assert level_of_amr((AMR_PASSWORD, AMR_SMS_OTP)) == 2
    assert AMR_PASSWORD == "urn:telenor.identity.amr.td_pwd"
    assert AMR_SMS_OTP == "urn:telenor.identity.amr.td_otp"
