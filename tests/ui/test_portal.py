"""The developer portal (/portal): a developer logs in through the built-in portal client,
creates a company, invites others by e-mail with a single-use link, and manages its members;
an outsider learns nothing of a company (404). English and Norwegian; every form needs the
page's CSRF token, and a destructive action asks first."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from idplus.application.app import create_app
from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.crypto.hashing import hash_handle
from idplus.protocol.context import AppContext
from tests.flows.forms import parse_forms
from tests.harness import Harness
from tests.ui.staff_browser import (
    DEVELOPER,
    OTHER_DEVELOPER,
    StaffBrowser,
    add_people,
    check_page_structure,
    user_named,
)


@pytest.fixture
def developer(harness: Harness) -> StaffBrowser:
    add_people(harness, DEVELOPER, OTHER_DEVELOPER)
    browser = StaffBrowser(harness)
    browser.login(DEVELOPER)
    return browser


def create_company(browser: StaffBrowser, name: str = "Acme") -> str:
    browser.get("/portal/companies/new")
    created = browser.post("/portal/companies/new", "create", name=name)
    assert created.status_code == 303, created.text
    location = str(created.headers["location"])
    assert location.endswith("?notice=company_created")
    return location.split("/")[-1].split("?")[0]


INVITATIONS = "/portal/invitations"
INVITATION_COOKIE = "idplus_invitation"


def invitation_link(h: Harness) -> str:
    """The path and query of the last e-mail's link: the token is in the query."""
    (link,) = re.findall(r"http://127\.0\.0\.1:8000(/portal/invitations\?token=[\w-]+)",
                         h.outbox()[-1]["body"])[:1]  # fmt: skip
    return str(link)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def accept(browser: StaffBrowser, page: Any) -> Any:
    """Press the invitation page's button: its form, as it is."""
    (form,) = [f for f in parse_forms(page.text) if f.buttons == [("action", "accept")]]
    return browser.h.http.post(form.action, data={**form.fields, "action": "accept"})


def post_accept(browser: StaffBrowser, token: str) -> Any:
    """Accept with this token (the last page's CSRF token), as the page's form would."""
    return browser.post(INVITATIONS, "accept", token=token)


def invitation_cookie(h: Harness) -> str | None:
    return next((c.value for c in h.http.cookies.jar if c.name == INVITATION_COOKIE), None)


def join(browser: StaffBrowser, company_id: str, username: str, role: str = "developer") -> None:
    """The admin (logged in) invites `username`, who accepts; the admin is logged in after."""
    h = browser.h
    browser.get(f"/portal/companies/{company_id}")
    email = {DEVELOPER: "dev@example.com", OTHER_DEVELOPER: "other@example.com"}[username]
    assert browser.post(f"/portal/companies/{company_id}", "invite", email=email,
                        role=role).status_code == 303  # fmt: skip
    link = invitation_link(h)
    admin = _current_username(browser)
    assert accept(browser, browser.login(username, link)).status_code == 303
    browser.login(admin)


def _current_username(browser: StaffBrowser) -> str:
    found = re.search(r"Logged in as ([^.<]+)\.", browser.get("/portal").text)
    assert found
    return found.group(1)


def test_the_portal_logs_in_through_its_built_in_client_and_comes_back(
    harness: Harness,
) -> None:
    add_people(harness, DEVELOPER)
    first = harness.http.get("/portal/companies/new")
    assert first.status_code == 303
    assert first.headers["location"].startswith("/login?interaction=")
    page = StaffBrowser(harness).login(DEVELOPER, "/portal/companies/new")
    assert str(page.url).endswith("/portal/companies/new")
    check_page_structure(page.text)


def test_creating_a_company_makes_the_developer_its_admin(developer: StaffBrowser) -> None:
    company_id = create_company(developer)
    page = developer.get(f"/portal/companies/{company_id}?notice=company_created")
    assert "<h1>Acme</h1>" in page.text
    assert "The company is created. You are its admin." in page.text
    assert "Your role: Admin" in page.text
    check_page_structure(page.text)
    home = developer.get("/portal")
    assert f'<a href="/portal/companies/{company_id}">Acme</a>' in home.text
    (event,) = developer.h.audit_events("company.created")
    assert event.detail["actor"] == f"user:{user_named(developer.h, DEVELOPER).id}"


def test_the_portal_in_norwegian(developer: StaffBrowser) -> None:
    company_id = create_company(developer)
    home = developer.get("/portal?locale=nb")
    assert '<html lang="no">' in home.text
    assert "<h1>Utviklerportal</h1>" in home.text
    assert "Selskapene dine" in home.text
    page = developer.get(f"/portal/companies/{company_id}?locale=nb")
    assert "Din rolle: Administrator" in page.text
    assert "Inviter en utvikler" in page.text


def test_a_company_needs_a_name(developer: StaffBrowser) -> None:
    developer.get("/portal/companies/new")
    refused = developer.post("/portal/companies/new", "create", name="two\nlines")
    assert refused.status_code == 400
    assert 'role="alert"' in refused.text
    assert developer.h.audit_events("company.created") == []


def test_an_outsider_learns_nothing_of_a_company(developer: StaffBrowser) -> None:
    company_id = create_company(developer)
    developer.login(OTHER_DEVELOPER)
    page = developer.get(f"/portal/companies/{company_id}")
    assert page.status_code == 404
    assert "Acme" not in page.text
    assert "There is nothing here, or you may not see it." in page.text
    unknown = developer.get("/portal/companies/" + "0" * 32)
    assert unknown.status_code == 404
    refused = developer.post(f"/portal/companies/{company_id}", "invite",
                             email="me@example.com")  # fmt: skip
    assert refused.status_code == 404
    assert developer.h.outbox() == []


def test_an_invitation_is_accepted_once_through_its_link(developer: StaffBrowser) -> None:
    h = developer.h
    company_id = create_company(developer)
    developer.get(f"/portal/companies/{company_id}")
    sent = developer.post(f"/portal/companies/{company_id}", "invite",
                          email="other@example.com", role="developer")  # fmt: skip
    assert sent.headers["location"].endswith("?notice=invited")
    page = developer.get(sent.headers["location"])
    assert "other@example.com" in page.text  # pending
    link = invitation_link(h)
    assert token_of(link) not in page.text  # the link is in the e-mail only
    # The invitee opens the link: logs in first, then sees what it is and accepts.
    offer = developer.login(OTHER_DEVELOPER, link)
    assert offer.status_code == 200
    assert str(offer.url).endswith(INVITATIONS)  # back without the token
    assert "<h1>Join Acme</h1>" in offer.text
    check_page_structure(offer.text)
    accepted = accept(developer, offer)
    assert accepted.status_code == 303
    assert accepted.headers["location"] == f"/portal/companies/{company_id}?notice=joined"
    member = developer.get(accepted.headers["location"])
    assert "Welcome: you are a member of the company now." in member.text
    assert "Your role: Developer" in member.text
    assert "Invite a developer" not in member.text  # developers do not invite
    # The link works once.
    again = developer.get(link)
    assert again.status_code == 404
    assert "This invitation link has expired or was used already." in again.text
    assert post_accept(developer, token_of(link)).status_code == 404


def test_the_login_detour_keeps_the_token_in_a_cookie_not_in_the_login(
    developer: StaffBrowser,
) -> None:
    """The login keeps its return address in the database until it ends: the token waits in
    a short-lived cookie for /portal/invitations alone instead, and the page comes back to the
    bare path, reads it there, and forgets it once the invitation is accepted."""
    h = developer.h
    company_id = create_company(developer)
    developer.get(f"/portal/companies/{company_id}")
    developer.post(f"/portal/companies/{company_id}", "invite", email="other@example.com")
    link, token = invitation_link(h), token_of(invitation_link(h))
    h.http.cookies.clear()
    detour = h.http.get(link)
    assert detour.status_code == 303
    handle = parse_qs(urlsplit(detour.headers["location"]).query)["interaction"][0]
    (set_cookie,) = [c for c in detour.headers.get_list("set-cookie")
                     if c.startswith(f"{INVITATION_COOKIE}=")]  # fmt: skip
    flags = [flag.strip().lower() for flag in set_cookie.split(";")[1:]]
    assert {"httponly", "samesite=lax", f"path={INVITATIONS}", "max-age=900"} <= set(flags)
    # The login in progress, as the database holds it, does not hold the token.
    server: AppContext = h.http.app.state.context  # type: ignore[attr-defined]
    store = h.store()
    try:
        with store.reading() as uow:
            interaction = uow.interactions.find(hash_handle(server.secrets.handle_key, handle))
    finally:
        store.dispose()
    assert interaction is not None
    assert interaction.request.return_to == INVITATIONS
    assert token not in repr(interaction)
    # Logged in, the browser is back at the bare path; the page's form carries the token.
    offer = developer.login(OTHER_DEVELOPER, link)
    assert str(offer.url).endswith(INVITATIONS)
    assert "<h1>Join Acme</h1>" in offer.text
    assert invitation_cookie(h) is not None
    accepted = accept(developer, offer)
    assert accepted.status_code == 303
    assert any(c.startswith(f'{INVITATION_COOKIE}=""') or "max-age=0" in c.lower()
               for c in accepted.headers.get_list("set-cookie"))  # fmt: skip
    assert invitation_cookie(h) is None
    assert len(h.audit_events("company.invitation_accepted")) == 1
    # Nothing left to come back to.
    assert developer.get(INVITATIONS).status_code == 404


def test_on_https_the_cookie_is_secure_and_still_scoped_to_the_page(
    settings: Settings, clock: FrozenClock
) -> None:
    """`__Host-` demands the path /: a `__Secure-` name keeps the cookie to https and to
    /portal/invitations."""
    https = Settings(
        issuer="https://id.example.no",
        database_url=settings.database_url,
        outbox=settings.outbox,
        secret_key="a-cookie-key-from-the-environment",
        key_encryption_key="a-key-encryption-key-from-the-environment",
    )
    with TestClient(create_app(https, clock=clock), base_url=https.issuer,
                    follow_redirects=False) as http:  # fmt: skip
        detour = http.get(f"{INVITATIONS}?token=a-token-from-an-e-mail")
    assert detour.status_code == 303
    (cookie,) = [c for c in detour.headers.get_list("set-cookie")
                 if c.startswith(f"__Secure-{INVITATION_COOKIE}=")]  # fmt: skip
    flags = {flag.strip().lower() for flag in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=lax", f"path={INVITATIONS}"} <= flags
    assert "a-token-from-an-e-mail" not in detour.headers["location"]


def test_a_refused_accept_clears_the_cookie_too(developer: StaffBrowser) -> None:
    h = developer.h
    company_id = create_company(developer)
    developer.get(f"/portal/companies/{company_id}")
    developer.post(f"/portal/companies/{company_id}", "invite", email="other@example.com")
    link = invitation_link(h)
    developer.login(OTHER_DEVELOPER, link)
    assert invitation_cookie(h) is not None
    assert post_accept(developer, "not-the-token").status_code == 404
    assert invitation_cookie(h) is None


def test_a_used_link_leaves_no_token_in_the_logs(developer: StaffBrowser) -> None:
    """Refused requests are logged with their path: the link's token is in the query."""
    h = developer.h
    company_id = create_company(developer)
    join(developer, company_id, OTHER_DEVELOPER)
    link = invitation_link(h)
    with capture_logs() as logs:
        again = developer.get(link)
        refused = post_accept(developer, token_of(link))
    assert (again.status_code, refused.status_code) == (404, 404)
    requests = [entry for entry in logs if entry["event"] == "request"]
    assert [(r["path"], r["status"]) for r in requests] == [(INVITATIONS, 404)] * 2
    assert token_of(link) not in repr(logs)


def test_two_links_in_two_tabs_each_accept_their_own(developer: StaffBrowser) -> None:
    """The cookie holds the last link opened; each page's form carries its own token."""
    h = developer.h
    first, second = create_company(developer, "First"), create_company(developer, "Second")
    links = []
    for company_id in (first, second):
        developer.get(f"/portal/companies/{company_id}")
        developer.post(f"/portal/companies/{company_id}", "invite", email="other@example.com")
        links.append(invitation_link(h))
    first_page = developer.login(OTHER_DEVELOPER, links[0])
    assert "<h1>Join First</h1>" in first_page.text
    second_page = developer.get(links[1])
    assert "<h1>Join Second</h1>" in second_page.text
    # The token is in the form alone: the language switch comes back by the cookie.
    assert second_page.text.count(token_of(links[1])) == 1
    assert "/language?lang=nb&amp;next=%2Fportal%2Finvitations" in second_page.text
    accepted = accept(developer, first_page)
    assert accepted.headers["location"] == f"/portal/companies/{first}?notice=joined"


def test_a_developer_may_not_invite(developer: StaffBrowser) -> None:
    company_id = create_company(developer)
    join(developer, company_id, OTHER_DEVELOPER)
    developer.login(OTHER_DEVELOPER)
    developer.get(f"/portal/companies/{company_id}")
    refused = developer.post(f"/portal/companies/{company_id}", "invite",
                             email="third@example.com")  # fmt: skip
    assert refused.status_code == 403
    assert "You may not do this." in refused.text


def test_a_bad_address_is_shown_on_the_page(developer: StaffBrowser) -> None:
    company_id = create_company(developer)
    developer.get(f"/portal/companies/{company_id}")
    refused = developer.post(f"/portal/companies/{company_id}", "invite", email="not an address")
    assert refused.status_code == 400
    assert "The change was refused." in refused.text
    assert "<h1>Acme</h1>" in refused.text


def test_withdrawing_an_invitation_asks_first(developer: StaffBrowser) -> None:
    h = developer.h
    company_id = create_company(developer)
    developer.get(f"/portal/companies/{company_id}")
    developer.post(f"/portal/companies/{company_id}", "invite", email="other@example.com")
    page = developer.get(f"/portal/companies/{company_id}")
    (invitation_id,) = re.findall(r'name="invitation_id" value="([^"]+)"', page.text)
    asked = developer.post(f"/portal/companies/{company_id}", "revoke_invitation",
                           invitation_id=invitation_id)  # fmt: skip
    assert "Withdraw the invitation to other@example.com?" in asked.text
    check_page_structure(asked.text)
    assert h.audit_events("company.invitation_revoked") == []
    done = developer.confirm(asked)
    assert done.headers["location"].endswith("?notice=invitation_revoked")
    link = invitation_link(h)
    assert developer.login(OTHER_DEVELOPER, link).status_code == 404
    assert developer.get(link).status_code == 404


def test_removing_a_member_asks_first(developer: StaffBrowser) -> None:
    h = developer.h
    company_id = create_company(developer)
    join(developer, company_id, OTHER_DEVELOPER)
    other = user_named(h, OTHER_DEVELOPER)
    developer.get(f"/portal/companies/{company_id}")
    asked = developer.post(f"/portal/companies/{company_id}", "remove_member", user_id=other.id)
    assert f"Remove {OTHER_DEVELOPER} from the company?" in asked.text
    done = developer.confirm(asked)
    assert done.headers["location"].endswith("?notice=member_removed")
    assert OTHER_DEVELOPER not in developer.get(f"/portal/companies/{company_id}").text


def test_a_developer_is_refused_before_being_asked_to_confirm(developer: StaffBrowser) -> None:
    """Only admins delete the company or remove others: a developer gets the 403 at once,
    not an "are you sure?" whose answer is refused; leaving stays theirs."""
    h = developer.h
    company_id = create_company(developer)
    join(developer, company_id, OTHER_DEVELOPER)
    admin = user_named(h, DEVELOPER)
    developer.login(OTHER_DEVELOPER)
    page = f"/portal/companies/{company_id}"
    for action, fields in (("delete", {}), ("remove_member", {"user_id": admin.id})):
        developer.get(page)
        refused = developer.post(page, action, **fields)
        assert refused.status_code == 403, action
        assert "You may not do this." in refused.text
        assert 'name="confirmed"' not in refused.text
    developer.get(page)
    me = user_named(h, OTHER_DEVELOPER)
    leaving = developer.post(page, "remove_member", user_id=me.id)
    assert "Leave the company Acme?" in leaving.text
    assert h.audit_events("company.deleted", "company.member_removed") == []


def test_a_member_changes_role_and_the_last_admin_stays(developer: StaffBrowser) -> None:
    h = developer.h
    company_id = create_company(developer)
    join(developer, company_id, OTHER_DEVELOPER)
    other, me = user_named(h, OTHER_DEVELOPER), user_named(h, DEVELOPER)
    developer.get(f"/portal/companies/{company_id}")
    promoted = developer.post(f"/portal/companies/{company_id}", "change_role",
                              user_id=other.id, role="admin")  # fmt: skip
    assert promoted.headers["location"].endswith("?notice=role_changed")
    developer.get(f"/portal/companies/{company_id}")
    demoted = developer.post(f"/portal/companies/{company_id}", "change_role",
                             user_id=me.id, role="developer")  # fmt: skip
    assert demoted.status_code == 303
    # Now the other is the last admin: they cannot step down.
    developer.login(OTHER_DEVELOPER)
    developer.get(f"/portal/companies/{company_id}")
    refused = developer.post(f"/portal/companies/{company_id}", "change_role",
                             user_id=other.id, role="developer")  # fmt: skip
    assert refused.status_code == 409
    assert "last admin" in refused.text


def test_a_developer_leaves_a_company(developer: StaffBrowser) -> None:
    h = developer.h
    company_id = create_company(developer)
    join(developer, company_id, OTHER_DEVELOPER)
    developer.login(OTHER_DEVELOPER)
    page = developer.get(f"/portal/companies/{company_id}")
    leave = re.findall(r'name="user_id" value="([^"]+)"', page.text)
    assert leave == [user_named(h, OTHER_DEVELOPER).id]
    asked = developer.post(f"/portal/companies/{company_id}", "remove_member", user_id=leave[0])
    assert "Leave the company Acme?" in asked.text
    done = developer.confirm(asked)
    assert done.headers["location"] == "/portal?notice=left"
    assert developer.get(f"/portal/companies/{company_id}").status_code == 404


def test_renaming_and_deleting_a_company(developer: StaffBrowser) -> None:
    company_id = create_company(developer)
    developer.get(f"/portal/companies/{company_id}")
    renamed = developer.post(f"/portal/companies/{company_id}", "rename", name="Acme AS")
    assert renamed.headers["location"].endswith("?notice=company_renamed")
    assert "<h1>Acme AS</h1>" in developer.get(f"/portal/companies/{company_id}").text
    asked = developer.post(f"/portal/companies/{company_id}", "delete")
    assert "Delete the company Acme AS with its members and invitations?" in asked.text
    assert developer.get(f"/portal/companies/{company_id}").status_code == 200
    done = developer.confirm(asked)
    assert done.headers["location"] == "/portal?notice=company_deleted"
    assert developer.get(f"/portal/companies/{company_id}").status_code == 404


def test_the_companies_table_pages_and_swaps_alone(developer: StaffBrowser) -> None:
    for n in range(51):
        create_company(developer, f"Company {n}")
    first = developer.get("/portal")
    assert (
        first.text.count('href="/portal/companies/')
        - first.text.count('href="/portal/companies/new"')
        == 50
    )
    (next_url,) = re.findall(r'<a href="(/portal\?cursor=[^"]+)"', first.text)
    partial = developer.get(next_url, **{"HX-Request": "true"})
    assert partial.text.lstrip().startswith('<div id="companies"')
    assert partial.text.count('href="/portal/companies/') == 1
    assert developer.get("/portal?cursor=not-one").status_code == 400


@pytest.mark.parametrize(
    ("path", "action", "fields"),
    [
        ("/portal/companies/new", "create", {"name": "Acme"}),
        ("/portal/companies/{company}", "invite", {"email": "x@example.com"}),
        ("/portal/companies/{company}", "rename", {"name": "Other"}),
        ("/portal/companies/{company}", "delete", {"confirmed": "yes"}),
        ("/portal/invitations", "accept", {"token": "some-token"}),
    ],
)
def test_every_portal_form_needs_the_pages_csrf_token(
    developer: StaffBrowser, path: str, action: str, fields: dict[str, Any]
) -> None:
    company_id = create_company(developer)
    before = len(developer.h.audit_events())
    url = path.format(company=company_id)
    for token in (None, "wrong"):
        data = {"action": action, **fields, **({"csrf_token": token} if token else {})}
        refused = developer.h.http.post(url, data=data)
        assert refused.status_code == 403
        assert "The form could not be checked" in refused.text
    assert len(developer.h.audit_events()) == before
    assert developer.h.outbox() == []
