"""Normalising the identifiers users log in with: Norwegian MSISDNs and e-mail addresses."""

from __future__ import annotations

import re

from idplus.errors import ValidationError

_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NORWAY = "+47"


def normalise_phone_number(value: str) -> str:
    """E.164: `90012345`, `0047 900 12 345` and `+47 900-12-345` all give `+4790012345`."""
    digits = _PHONE_SEPARATORS.sub("", value.strip())
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if re.fullmatch(r"\d{8}", digits):
        digits = NORWAY + digits
    elif re.fullmatch(r"47\d{8}", digits):
        digits = "+" + digits
    if not _E164.match(digits):
        raise ValidationError(f"{value!r} is not a phone number")
    if digits.startswith(NORWAY) and len(digits) != len(NORWAY) + 8:
        raise ValidationError(f"{value!r}: a Norwegian number has 8 digits after +47")
    return digits


def normalise_email(value: str) -> str:
    email = value.strip().lower()
    if not _EMAIL.match(email):
        raise ValidationError(f"{value!r} is not an e-mail address")
    return email


def normalise_username(value: str) -> str:
    """A username is an MSISDN (to E.164) or an e-mail address (lower-cased)."""
    if "@" in value:
        return normalise_email(value)
    try:
        return normalise_phone_number(value)
    except ValidationError:
        raise ValidationError(
            f"username {value!r} must be a mobile number or an e-mail address"
        ) from None
