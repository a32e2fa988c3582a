"""Usernames: Norwegian MSISDNs become E.164, e-mail addresses are lower-cased."""

from __future__ import annotations

import pytest

from idplus.errors import ValidationError
from idplus.identifiers import normalise_phone_number, normalise_username


@pytest.mark.parametrize(
    "raw",
    ["90012345", "900 12 345", "+47 900 12 345", "004790012345", "4790012345", "+47-900-12-345"],
)
def test_norwegian_msisdns_become_e164(raw: str) -> None:
    assert normalise_username(raw) == "+4790012345"


def test_foreign_numbers_keep_their_country_code() -> None:
    assert normalise_phone_number("+46 70 123 45 67") == "+46701234567"


def test_email_usernames_are_lower_cased() -> None:
    assert normalise_username("  Kari.Nordmann@Telenor.NO ") == "kari.nordmann@telenor.no"


@pytest.mark.parametrize("raw", ["kari", "12345", "+47123", "+4790012345678", "a@b", ""])
def test_other_usernames_are_refused(raw: str) -> None:
    with pytest.raises(ValidationError):
        normalise_username(raw)
