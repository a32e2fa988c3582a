"""The console's users: search, lock (asks first, may say why; the user's sessions end and
the portal sends them away) and unlock, reset the second factor, and give or take the
operator role (never the last operator's)."""

from __future__ import annotations

import re

import pytest

from tests.harness import Harness
from tests.ui.staff_browser import (
    DEVELOPER,
    OPERATOR,
    StaffBrowser,
    add_people,
    check_page_structure,
    user_named,
)


@pytest.fixture
def operator(harness: Harness) -> StaffBrowser:
    add_people(harness, DEVELOPER, OPERATOR)
    browser = StaffBrowser(harness)
    browser.login(OPERATOR, "/admin/users")
    return browser


def test_users_are_found_by_the_start_of_their_name(operator: StaffBrowser) -> None:
    page = operator.get("/admin/users?q=dan")
    assert re.findall(r'<a href="/admin/users/[^"]+">([^<]+)</a>', page.text) == [DEVELOPER]
    assert "Dana Dev" in page.text
    check_page_structure(page.text)
    everyone = operator.get("/admin/users")
    assert {DEVELOPER, OPERATOR} <= set(re.findall(r'<a href="/admin/users/[^"]+">([^<]+)</a>',
                                                   everyone.text))  # fmt: skip
    partial = operator.get("/admin/users?q=dan", **{"HX-Request": "true"})
    assert partial.text.lstrip().startswith('<div id="users"')
    assert operator.get("/admin/users?q=a%01").status_code == 400


def test_a_user_page_in_both_languages(operator: StaffBrowser) -> None:
    developer = user_named(operator.h, DEVELOPER)
    page = operator.get(f"/admin/users/{developer.id}")
    assert f"<h1>User {DEVELOPER}</h1>" in page.text
    assert "dev@example.com" in page.text
    check_page_structure(page.text)
    norwegian = operator.get(f"/admin/users/{developer.id}?locale=nb")
    assert f"<h1>Brukeren {DEVELOPER}</h1>" in norwegian.text
    assert "Sperr brukeren" in norwegian.text
    assert operator.get("/admin/users/no-such-user").status_code == 404


def test_locking_asks_first_ends_the_sessions_and_unlocking_lets_them_in(
    operator: StaffBrowser,
) -> None:
    h = operator.h
    developer = user_named(h, DEVELOPER)
    # The developer is logged in somewhere (another browser).
    operator.login(DEVELOPER)
    developer_cookies = dict(h.http.cookies)
    operator.login(OPERATOR, f"/admin/users/{developer.id}")
    asked = operator.post(f"/admin/users/{developer.id}", "lock")
    assert f"Lock {DEVELOPER}?" in asked.text
    assert user_named(h, DEVELOPER).disabled_at is None
    locked = operator.post(f"/admin/users/{developer.id}", "lock", confirmed="yes",
                           reason="Lost laptop")  # fmt: skip
    assert locked.headers["location"].endswith("?notice=locked")
    page = operator.get(locked.headers["location"])
    assert "The user is locked" in page.text
    (event,) = h.audit_events("user.locked")
    assert event.detail["reason"] == "Lost laptop"
    assert event.detail["actor"] == f"user:{user_named(h, OPERATOR).id}"
    assert event.detail["sessions_ended"] == 1
    # Their browser's session has ended: the portal sends it to the login.
    operator_cookies = dict(h.http.cookies)
    h.http.cookies.clear()
    h.http.cookies.update(developer_cookies)
    assert h.http.get("/portal").status_code == 303
    h.http.cookies.clear()
    h.http.cookies.update(operator_cookies)
    unlocked = operator.post(f"/admin/users/{developer.id}", "unlock")
    assert unlocked.headers["location"].endswith("?notice=unlocked")
    assert user_named(h, DEVELOPER).disabled_at is None
    assert operator.login(DEVELOPER).status_code == 200


def test_resetting_the_second_factor_asks_first(operator: StaffBrowser) -> None:
    h = operator.h
    developer = user_named(h, DEVELOPER)
    operator.get(f"/admin/users/{developer.id}")
    asked = operator.post(f"/admin/users/{developer.id}", "reset_second_factor",
                          phone_number="+47 900 00 123")  # fmt: skip
    assert f"Reset the second factor of {DEVELOPER}?" in asked.text
    done = operator.confirm(asked)
    assert done.headers["location"].endswith("?notice=second_factor_reset")
    assert user_named(h, DEVELOPER).phone_number == "+4790000123"
    (event,) = h.audit_events("user.second_factor_reset")
    assert "900" not in str(event.detail["after"])  # masked
    operator.get(f"/admin/users/{developer.id}")
    bad = operator.post(f"/admin/users/{developer.id}", "reset_second_factor",
                        phone_number="call me", confirmed="yes")  # fmt: skip
    assert bad.status_code == 400
    assert "The change was refused." in bad.text


def test_the_operator_role_is_given_and_taken(operator: StaffBrowser) -> None:
    h = operator.h
    developer = user_named(h, DEVELOPER)
    operator.get(f"/admin/users/{developer.id}")
    granted = operator.post(f"/admin/users/{developer.id}", "grant_operator")
    assert granted.headers["location"].endswith("?notice=role_granted")
    operator.login(DEVELOPER, "/admin")
    assert "<h1>Operator console</h1>" in operator.last.text
    operator.login(OPERATOR, f"/admin/users/{developer.id}")
    asked = operator.post(f"/admin/users/{developer.id}", "revoke_operator")
    assert f"Take the operator role from {DEVELOPER}?" in asked.text
    taken = operator.confirm(asked)
    assert taken.headers["location"].endswith("?notice=role_revoked")
    operator.login(DEVELOPER, "/admin")
    assert operator.last.status_code == 403


def test_the_last_operator_keeps_the_role(operator: StaffBrowser) -> None:
    me = user_named(operator.h, OPERATOR)
    operator.get(f"/admin/users/{me.id}")
    refused = operator.post(f"/admin/users/{me.id}", "revoke_operator", confirmed="yes")
    assert refused.status_code == 409
    assert "The change was refused." in refused.text
    assert operator.get("/admin").status_code == 200
    locked = operator.post(f"/admin/users/{me.id}", "lock", confirmed="yes")
    assert locked.status_code == 409
    assert user_named(operator.h, OPERATOR).disabled_at is None
