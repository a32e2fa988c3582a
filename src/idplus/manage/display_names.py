"""The names people read — an app's on the login, consent and CIBA pages and in SMS, a
company's in an invitation, an API product's in the portal: one line of plain text, bounded,
that shows what it says.

Developers name their own apps and companies, so a name is also a spoofing tool: line and
paragraph separators would break the "one line" (a fake second sentence in an SMS), bidi
overrides make text read backwards ("moc.lapyap"), and zero-width or other invisible
characters make names that look alike or look like nothing. Refused: control characters
(Cc), format characters (Cf) but the zero-width joiner and non-joiner that Indic and
Persian scripts and emoji sequences need, line and paragraph separators (Zl, Zp), surrogates,
private-use and unassigned code points, and names with nothing visible.
"""

from __future__ import annotations

import unicodedata

from idplus.errors import ValidationError

MAX_NAME_LENGTH = 200
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
# Format characters that scripts and emoji need to be written at all.
_JOINERS = frozenset({"\u200c", "\u200d"})


def check_display_name(name: str, what: str) -> None:
    """`what` says whose name it is in the refusal, e.g. "an API product's name"."""
    if (
        not name.strip()
        or len(name) > MAX_NAME_LENGTH
        or any(_refused(character) for character in name)
        or not any(_visible(character) for character in name)
    ):
        raise ValidationError(f"{what} is 1-{MAX_NAME_LENGTH} characters of plain text on one line")


def _refused(character: str) -> bool:
    return unicodedata.category(character) in _REFUSED_CATEGORIES and character not in _JOINERS


def _visible(character: str) -> bool:
    return not character.isspace() and character not in _JOINERS
