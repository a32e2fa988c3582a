"""The form a typed name is looked up and throttled under: control characters make it none."""

from __future__ import annotations

import pytest

from idplus.auth.local import canonical_username


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        (" 900 00 001 ", "+4790000001"),
        ("Kari@Example.COM\n", "kari@example.com"),
        ("not a name", "not a name"),
        ("+4790000001\x00", ""),
        ("kari\x1b@example.com", ""),
        ("kari\ud800@example.com", ""),
        ("900\u00a000\u00a0001", "+4790000001"),  # a no-break space pasted from a page
    ],
)
def test_control_characters_leave_no_name(typed: str, canonical: str) -> None:
    assert canonical_username(typed) == canonical
