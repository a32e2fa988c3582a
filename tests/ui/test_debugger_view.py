"""How the debugger shows tokens: time claims as dates, and JWT parts read without trusting
them (its Norwegian sentences are checked with the whole catalog, in test_i18n.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from idplus.ui.debugger_view import jwt_parts, relative, time_claims
from idplus.ui.i18n import gettext_for

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ENGLISH = gettext_for("en").gettext
NORWEGIAN = gettext_for("nb").gettext


@pytest.mark.parametrize(
    ("seconds", "english", "norwegian"),
    [
        (0, "now", "nå"),
        (45, "in 45 s", "om 45 s"),
        (3540, "in 59 min", "om 59 min"),
        (-180, "3 min ago", "for 3 min siden"),
        (5 * 3600, "in 5 h", "om 5 t"),
        (-14 * 86400, "14 d ago", "for 14 d siden"),
    ],
)
def test_relative_times_read_naturally(seconds: int, english: str, norwegian: str) -> None:
    assert relative(seconds, ENGLISH) == english
    assert relative(seconds, NORWEGIAN) == norwegian


def test_time_claims_are_iso_dates_in_utc_with_the_distance_from_now() -> None:
    claims = {"exp": 1767229140, "iat": 1767225420, "sub": "x", "nbf": True, "auth_time": 1e30}
    shown = [(t.name, t.iso, t.relative) for t in time_claims(claims, NOW, ENGLISH)]
    assert shown == [
        ("exp", "2026-01-01T00:59:00Z", "in 59 min"),
        ("iat", "2025-12-31T23:57:00Z", "3 min ago"),
    ]


@pytest.mark.parametrize(
    "token",
    ["opaque-refresh-token", "a.b.c", "e30.W10.sig", "!!.??.x", "eyJhIjoxfQ.eyJhIjo.x"],
)
def test_what_is_not_a_jwt_is_shown_only_raw(token: str) -> None:
    assert jwt_parts(token) is None
