"""A developer's or operator's browser at the portal and the console: logs in through the
pages (as the built-in clients do) and posts their forms with the page's CSRF token."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from idplus.models import User
from idplus.policies import OPERATOR_ROLE
from tests.flows.forms import FormBrowser, parse_forms
from tests.harness import PASSWORD, Harness

DEVELOPER = "+4791000001"
OTHER_DEVELOPER = "+4791000003"
OPERATOR = "+4791000002"
NOWHERE = "https://nowhere.invalid"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class StaffBrowser:
    h: Harness
    last: Any = None

    def login(self, username: str, path: str = "/portal") -> Any:
        """A fresh browser (no cookies) that opens `path`, logs in, and is back at it."""
        self.h.http.cookies.clear()
        browser = FormBrowser(self.h.http, NOWHERE)
        page = browser.get(path)
        assert 'name="password"' in page.text, page.text[:500]
        self.last = browser.submit({"username": username, "password": PASSWORD},
                                   ("action", "login"))  # fmt: skip
        return self.last

    def get(self, path: str, **headers: str) -> Any:
        self.last = self.h.http.get(path, headers=headers)
        return self.last

    def csrf(self) -> str:
        found = _CSRF.search(self.last.text)
        assert found, "the last page has a form"
        return found.group(1)

    def post(self, path: str, action: str, **fields: Any) -> Any:
        """Post a form of the last page's (its CSRF token) with this action button."""
        data = {"csrf_token": self.csrf(), "action": action, **fields}
        return self.h.http.post(path, data=data)

    def confirm(self, page: Any) -> Any:
        """Press the confirmation page's button: its form, as it is."""
        (form,) = [f for f in parse_forms(page.text) if "confirmed" in f.fields]
        ((name, value),) = form.buttons
        return self.h.http.post(form.action, data={**form.fields, name: value})


PEOPLE = {
    DEVELOPER: {"email": "dev@example.com", "given_name": "Dana", "family_name": "Dev"},
    OTHER_DEVELOPER: {"email": "other@example.com"},
    OPERATOR: {"email": "ops@example.com"},
}


def add_people(h: Harness, *usernames: str) -> None:
    """These of the developer, the other developer and the operator (none named: all)."""
    for username in usernames or tuple(PEOPLE):
        h.add_user(username, **PEOPLE[username])
        if username == OPERATOR:
            grant_operator(h, OPERATOR)


def grant_operator(h: Harness, username: str) -> None:
    store = h.store()
    try:
        with store.transaction() as uow:
            user = uow.users.find_by_username(username)
            assert user is not None
            uow.users.grant_role(user.id, OPERATOR_ROLE, h.clock.now())
    finally:
        store.dispose()


def user_named(h: Harness, username: str) -> User:
    return h.user(username)


def lock_in_store(h: Harness, username: str) -> None:
    """Lock the user's row only (their session left alive), as a lock racing a page would."""
    user = user_named(h, username)
    store = h.store()
    try:
        with store.transaction() as uow:
            assert uow.users.set_disabled(user.id, h.clock.now(), h.clock.now())
    finally:
        store.dispose()


class _Controls(HTMLParser):
    """Form controls (but hidden inputs), the ids labels point at, and the headings."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[str] = []
        self.labelled: set[str] = set()
        self.h1 = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("select", "textarea") or (tag == "input" and a.get("type") != "hidden"):
            self.controls.append(a.get("id", f"<{tag} name={a.get('name')}> without an id"))
        elif tag == "label" and "for" in a:
            self.labelled.add(a["for"])
        elif tag == "h1":
            self.h1 += 1


def check_page_structure(html: str) -> None:
    """One <h1>, and a visible <label for=…> for every form control (what Playwright's
    get_by_role and get_by_label find things by)."""
    parser = _Controls()
    parser.feed(html)
    assert parser.h1 == 1, f"{parser.h1} <h1> elements"
    unlabelled = [c for c in parser.controls if c not in parser.labelled]
    assert unlabelled == [], f"controls without a label: {unlabelled}"
