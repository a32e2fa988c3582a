"""The names people read — an app's on the login, consent and CIBA pages and in SMS, an API
product's in the portal: one line of plain text, bounded."""

from __future__ import annotations

import re

from idplus.errors import ValidationError

MAX_NAME_LENGTH = 200
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_display_name(name: str, what: str) -> None:
    """`what` says whose name it is in the refusal, e.g. "an API product's name"."""
    if not name.strip() or len(name) > MAX_NAME_LENGTH or _CONTROL_CHARACTER.search(name):
        raise ValidationError(f"{what} is 1-{MAX_NAME_LENGTH} characters of plain text on one line")
