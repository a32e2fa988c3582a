"""The Norwegian catalog holds exactly the messages idplus shows: each one translated once, with
the same placeholders, and nothing that no page uses any more.

A message is shown when a template passes it to `_()` or when Python hands it to a translator.
Templates are read with a regex (Babel's Jinja2 extractor is not installed). Python messages
are of two kinds: string literals passed to `gettext`/`_`, as `message=`/`detail=` of an error
page or as the title of a debugger answer, found in the ui modules' syntax trees; and module
constants and tables looked up at run time, listed in PYTHON_MESSAGES below. A new constant
shown on a page belongs in that list; if it is missing there but translated, the test says the
translation is unused.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

from idplus.protocol import scope_descriptions
from idplus.protocol.authorize import FATAL_DESCRIPTIONS
from idplus.ui import (
    account,
    authorize,
    ciba_approval,
    console,
    console_people,
    console_users,
    debugger,
    debugger_result,
    device,
    end_session,
    login,
    pages,
    password_reset,
    portal,
    portal_apps,
    staff_pages,
    webauthn,
)
from idplus.ui.i18n import LOCALE_DIR, gettext_for

UI = Path(login.__file__).parent
CATALOG = LOCALE_DIR / "nb" / "LC_MESSAGES" / "messages.po"

PYTHON_MESSAGES = frozenset(
    {
        *login.PROBLEM_MESSAGES.values(),
        *login.NOTICES.values(),
        login.BUSY_MESSAGE,
        login.UPSTREAM_FAILED_MESSAGE,
        login.START_AGAIN,
        *(text for pair in login.LINK_REFUSED_MESSAGES.values() for text in pair),
        *account.NOTICES.values(),
        account.UNKNOWN_BROWSER,
        account.BROWSER_ON_SYSTEM,
        account.PASSWORD,
        account.PASSWORD_AND_SMS,
        account.PASSKEY,
        *webauthn.MESSAGES.values(),
        device.UNKNOWN,
        device.LOCKED,
        device.CONNECTED,
        device.DENIED,
        ciba_approval.GONE,
        ciba_approval.HELD,
        ciba_approval.WRONG_USER,
        ciba_approval.APPROVED,
        ciba_approval.DENIED,
        end_session.INVALID,
        end_session.OTHER_CLIENT,
        authorize.NOT_SET_UP,
        pages.MALFORMED_REQUEST,
        *FATAL_DESCRIPTIONS,
        *password_reset.PROBLEM_MESSAGES.values(),
        *password_reset.NOTICES.values(),
        password_reset.GONE,
        password_reset.LINK_GONE,
        password_reset.LINK_OTHER_BROWSER,
        password_reset.START_AGAIN,
        *debugger.MESSAGES.values(),
        *debugger_result.BUTTONS.values(),
        *debugger_result.BUTTON_LABELS.values(),
        *debugger_result.TOKEN_TITLES.values(),
        *scope_descriptions.SCOPE_WORDS.values(),
        scope_descriptions.API_WORDS,
        *staff_pages.MESSAGES.values(),
        *console.MESSAGES.values(),
        *console_people.MESSAGES.values(),
        *console_users.MESSAGES.values(),
        *portal.MESSAGES.values(),
        *portal_apps.MESSAGES.values(),
    }
)
# Names and units that read the same in Norwegian.
SAME_IN_NORWEGIAN = frozenset(
    {"Userinfo", "%(count)s s", "%(count)s min", "%(count)s d", "App", "Scope", "Type"}
)

_STRING = r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^'\\]|\\.)*'"
_TEMPLATE_CALL = re.compile(rf"\b_\(\s*({_STRING})\s*\)")
_PO_ENTRY = re.compile(r'^msgid ((?:"(?:[^"\\]|\\.)*"\s*)+)msgstr ', re.MULTILINE)
_PO_PIECE = re.compile(r'"((?:[^"\\]|\\.)*)"')
_PLACEHOLDER = re.compile(r"%\((\w+)\)\w")
# Calls whose string literal arguments are messages, and keywords that are messages anywhere.
_TRANSLATING_CALLS = frozenset({"_", "gettext", "AnswerView", "answer_view"})
_MESSAGE_KEYWORDS = frozenset({"message", "detail"})


def _template_messages() -> set[str]:
    found: set[str] = set()
    for template in (UI / "templates").rglob("*.html"):
        for literal in _TEMPLATE_CALL.findall(template.read_text()):
            found.add(ast.literal_eval(literal))
    return found


def _python_literal_messages() -> set[str]:
    found: set[str] = set()
    for module in UI.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Call):
                found.update(_literals_of(node))
    return found


def _literals_of(call: ast.Call) -> list[str]:
    function = call.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    arguments = call.args[:1] if name in _TRANSLATING_CALLS else []
    arguments += [k.value for k in call.keywords if k.arg in _MESSAGE_KEYWORDS]
    return [a.value for a in arguments if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def _catalog_msgids() -> list[str]:
    """Every msgid in file order, duplicates kept (a catalog reader keeps only the last)."""
    entries = _PO_ENTRY.findall(CATALOG.read_text())
    msgids = ["".join(ast.literal_eval(f'"{p}"') for p in _PO_PIECE.findall(e)) for e in entries]
    return [msgid for msgid in msgids if msgid]  # "" is the header


def test_the_norwegian_catalog_holds_exactly_the_messages_shown() -> None:
    shown = _template_messages() | _python_literal_messages() | PYTHON_MESSAGES
    catalog = _catalog_msgids()
    norwegian = gettext_for("nb").gettext
    problems = [f"duplicate: {msgid!r}" for msgid, n in Counter(catalog).items() if n > 1]
    problems += [f"unused: {msgid!r}" for msgid in catalog if msgid not in shown]
    for msgid in sorted(shown):
        translated = norwegian(msgid)
        if translated == msgid and msgid not in SAME_IN_NORWEGIAN:
            problems.append(f"not translated: {msgid!r}")
        elif sorted(_PLACEHOLDER.findall(translated)) != sorted(_PLACEHOLDER.findall(msgid)):
            problems.append(f"placeholders differ: {msgid!r} -> {translated!r}")
    assert problems == []


def test_english_is_the_source_language() -> None:
    assert gettext_for("en").gettext("Log in") == "Log in"
    assert gettext_for("xx").gettext("Log in") == "Log in"
