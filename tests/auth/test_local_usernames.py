"""The form a typed name is looked up and throttled under: control characters, or more
characters than an e-mail address can have, make it none."""

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
        # Longer than any e-mail address (RFC 5321): no name, and no key too long to store.
        ("k" * 308 + "@example.com", "k" * 308 + "@example.com"),
        ("k" * 309 + "@example.com", ""),
        ("x" * 5000, ""),
    ],
)
def test_control_characters_leave_no_name(typed: str, canonical: str) -> None:
    assert canonical_username(typed) == canonical
