"""Every message a page can show has a Norwegian translation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from idplus.protocol.authorize import FATAL_DESCRIPTIONS
from idplus.ui import account, ciba_approval, device, end_session, login
from idplus.ui.i18n import gettext_for
from idplus.ui.pages import MALFORMED_REQUEST

TEMPLATES = Path(login.__file__).parent / "templates"
_CALL = re.compile(r'_\("((?:[^"\\]|\\.)*)"\)')


def _template_messages() -> set[str]:
    found: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        found.update(_CALL.findall(template.read_text()))
    return found


PAGE_MESSAGES = sorted(
    _template_messages()
    | set(login.PROBLEM_MESSAGES.values())
    | set(account.NOTICES.values())
    | {device.UNKNOWN, device.LOCKED, "The device is connected.", "The request was denied."}
    | {login.BUSY_MESSAGE, login.UPSTREAM_FAILED_MESSAGE}
    | {text for pair in login.LINK_REFUSED_MESSAGES.values() for text in pair}
    | {ciba_approval.GONE, ciba_approval.HELD, ciba_approval.WRONG_USER}
    | {ciba_approval.APPROVED, ciba_approval.DENIED}
    | set(FATAL_DESCRIPTIONS)
    | {MALFORMED_REQUEST, end_session.OTHER_CLIENT}
    | {
        "This login has expired or is already finished.",
        "Go back to the app and start again.",
        "The form could not be checked. Reload the page and try again.",
        "The app that sent you here is not set up correctly.",
        "The logout request is not valid.",
    }
)


@pytest.mark.parametrize("message", PAGE_MESSAGES)
def test_message_has_a_norwegian_translation(message: str) -> None:
    translated = gettext_for("nb").gettext(message)
    assert translated != message
    assert re.findall(r"%\(\w+\)s", translated) == re.findall(r"%\(\w+\)s", message)


def test_english_is_the_source_language() -> None:
    assert gettext_for("en").gettext("Log in") == "Log in"
    assert gettext_for("xx").gettext("Log in") == "Log in"
