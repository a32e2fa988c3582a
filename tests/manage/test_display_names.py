"""Names people read (apps on the login, consent and CIBA pages and in SMS; companies in
invitations): one line of plain text that shows what it says — no fake second line, no text
that reads backwards, no invisible look-alikes."""

from __future__ import annotations

import pytest

from idplus.errors import ValidationError
from idplus.manage.display_names import MAX_NAME_LENGTH, check_display_name


@pytest.mark.parametrize(
    "name",
    [
        "Telenor TV",
        "Min Side – Telenor",
        "Ærlig Øl & Ålesund",
        "नमस्ते",  # Devanagari, with a virama joining
        "می‌خواهم",  # Persian, with a zero-width non-joiner
        "Family 👨\u200d👩\u200d👧",  # an emoji sequence joined by ZWJ
        "x" * MAX_NAME_LENGTH,
    ],
)
def test_plain_names_in_any_script_are_accepted(name: str) -> None:
    check_display_name(name, "an app's name")


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "x" * (MAX_NAME_LENGTH + 1),
        "Bank\nYour account is locked",
        "Bank\u2028Your account is locked, call +47 …",  # line separator
        "Bank\u2029Second paragraph",  # paragraph separator
        "\u202emoc.lapyap",  # right-to-left override
        "Pay\u2066pal\u2069",  # bidi isolates
        "Pay\u200bPal",  # zero-width space
        "\ufeff",  # a byte-order mark alone
        "\u200b\u200b",  # nothing visible
        "\u200d",  # a joiner alone
        "Bank\x85",  # C1 control
        "Private\ue000",  # private use
    ],
)
def test_names_that_hide_or_fake_what_they_say_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="one line"):
        check_display_name(name, "an app's name")
