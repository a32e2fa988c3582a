"""`/admin/api/v1/companies` and `/invitations/accept`, per role: an operator reaches every
company; a company's admin changes it, invites and removes; its developers see it; an outsider
gets 404 as for a company that does not exist; no token or a bad one is 401. An invitation's
link comes only by e-mail, works once, and expires."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from openapi_schema_validator import OAS31Validator

from idplus.config import Settings
from idplus.manage.invitations import GONE
from idplus.models import Client, Membership
from idplus.policies import ClientType
from idplus.web.admin_api import OPENAPI_PATH
from idplus.web.admin_api.operations import encode_cursor
from tests.harness import Harness
from tests.web.admin_api.conftest import API, OPERATOR, bearer, user_login_token

ADMIN, DEVELOPER, OUTSIDER = "+4792000001", "+4792000002", "+4792000003"
COMPANIES = f"{API}/companies"
ACCEPT = f"{API}/invitations/accept"
LINK = re.compile(r"/portal/invitations\?token=([A-Za-z0-9_-]+)")


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    """Both databases: companies, members and invitations are rows, and links race."""
    return settings.model_copy(update={"database_url": database_url})


# Who may call, and what a request must hold, are the same rules on both databases: these run
# on SQLite; what the store does (lists, links used once, limits, deletion) runs on both, and
# tests/manage and tests/store run every rule on both.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
USERNAMES = {"admin": ADMIN, "developer": DEVELOPER, "outsider": OUTSIDER}


@dataclass
class World:
    """Acme, with its admin and a developer, and an outsider; each logs in to the portal the
    first time they call (a login costs an argon2 hash); the operator is a client."""

    harness: Harness
    company_id: str
    etag: str
    tokens: dict[str, str]
    user_ids: dict[str, str]

    def token(self, who: str) -> str:
        if who not in self.tokens:
            self.tokens[who] = user_login_token(self.harness, USERNAMES[who])
        return self.tokens[who]

    def call(self, who: str, method: str, path: str, body: Any = None, **headers: str) -> Any:
        return self.harness.http.request(
            method, path, json=body, headers={**bearer(self.token(who)), **headers}
        )


def _user_id(h: Harness, username: str) -> str:
    return h.user(username).id


def _token_of_last_mail(h: Harness, to: str) -> str:
    message = [m for m in h.outbox() if m["to"] == to][-1]
    found = LINK.search(message["body"])
    assert found is not None, message
    return found.group(1)


@pytest.fixture
def world(harness: Harness, operator_token: str) -> World:
    emails = {
        "admin": "admin@example.com",
        "developer": "dev@example.com",
        "outsider": "out@example.com",
    }
    for who, username in USERNAMES.items():
        harness.add_user(username, email=emails[who])
    user_ids = {who: _user_id(harness, username) for who, username in USERNAMES.items()}
    world = World(harness, "", "", {"operator": operator_token}, user_ids)
    created = world.call("admin", "POST", COMPANIES, {"name": "Acme"})
    assert created.status_code == 201, created.text
    world.company_id, world.etag = created.json()["id"], created.headers["etag"]
    store = harness.store()
    try:
        with store.transaction() as uow:
            joined = Membership(
                world.company_id, user_ids["developer"], "developer", harness.clock.now()
            )
            uow.companies.add_member(joined)
    finally:
        store.dispose()
    return world


def _operations(company_id: str, member: str) -> list[tuple[str, str, Any]]:
    one = f"{COMPANIES}/{company_id}"
    return [
        ("GET", one, None),
        ("PATCH", one, {"name": "Mine"}),
        ("DELETE", one, None),
        ("GET", f"{one}/members", None),
        ("PATCH", f"{one}/members/{member}", {"role": "developer"}),
        ("DELETE", f"{one}/members/{member}", None),
        ("GET", f"{one}/invitations", None),
        ("POST", f"{one}/invitations", {"email": "x@example.com"}),
        ("DELETE", f"{one}/invitations/some-invitation", None),
    ]


# --- no token, a bad token, another client's token ------------------------------------------


ANY_COMPANY = [
    *_operations("c1", "u1"),
    ("GET", COMPANIES, None),
    ("POST", COMPANIES, {"name": "Acme"}),
    ("POST", ACCEPT, {"token": "t"}),
]


@SQLITE_ONLY
@pytest.mark.parametrize(("method", "path", "body"), ANY_COMPANY)
def test_no_token_and_a_garbage_token_are_401(
    harness: Harness, method: str, path: str, body: Any
) -> None:
    missing = harness.http.request(method, path, json=body)
    garbage = harness.http.request(method, path, json=body, headers=bearer("not.a.token"))

    assert missing.status_code == 401 and garbage.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert garbage.json()["error"] == "invalid_token"


@SQLITE_ONLY
def test_another_clients_user_token_opens_nothing(harness: Harness, user_token: str) -> None:
    response = harness.http.get(COMPANIES, headers=bearer(user_token))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"


# --- companies ------------------------------------------------------------------------------


@SQLITE_ONLY
def test_a_developer_creates_a_company_and_is_its_admin(world: World) -> None:
    created = world.call("outsider", "POST", COMPANIES, {"name": "Outsiders AS"})

    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "Outsiders AS" and body["role"] == "admin"
    assert body["created_by"] == f"user:{world.user_ids['outsider']}"
    assert (
        created.headers["etag"]
        == world.call("outsider", "GET", f"{COMPANIES}/{body['id']}").headers["etag"]
    )
    (event,) = [
        e
        for e in world.harness.audit_events("company.created")
        if e.detail["company_id"] == body["id"]
    ]
    assert event.detail["actor"] == f"user:{world.user_ids['outsider']}"


@SQLITE_ONLY
def test_an_operator_creates_a_company_for_a_named_admin(world: World) -> None:
    unnamed = world.call("operator", "POST", COMPANIES, {"name": "Ops Co"})
    named = world.call(
        "operator", "POST", COMPANIES, {"name": "Ops Co", "admin_username": OUTSIDER}
    )
    by_developer = world.call(
        "developer", "POST", COMPANIES, {"name": "Sneaky", "admin_username": OUTSIDER}
    )

    assert unnamed.status_code == 400 and "admin_username" in unnamed.text
    assert named.status_code == 201, named.text
    assert by_developer.status_code == 403
    assert by_developer.json()["error"] == "access_denied"
    theirs = world.call("outsider", "GET", COMPANIES).json()["items"]
    assert [(c["name"], c["role"]) for c in theirs] == [("Ops Co", "admin")]
    actor = world.harness.audit_events("company.created")[-1].detail["actor"]
    assert actor == f"client:{OPERATOR}"


BAD_COMPANIES = [
    {},
    {"name": ""},
    {"name": "a\nb"},
    {"name": "x" * 201},
    {"name": 5},
    {"name": "Acme", "owner": "me"},
]


@SQLITE_ONLY
def test_a_bad_company_is_400(world: World) -> None:
    for body in BAD_COMPANIES:
        response = world.call("admin", "POST", COMPANIES, body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"] == "invalid_request"
    assert world.call("operator", "GET", COMPANIES).json()["items"][0]["name"] == "Acme"


def test_each_caller_lists_what_they_may_see(world: World) -> None:
    world.call("operator", "POST", COMPANIES, {"name": "Other", "admin_username": OUTSIDER})

    def names(who: str) -> list[str]:
        response = world.call(who, "GET", COMPANIES)
        assert response.status_code == 200, response.text
        return sorted(c["name"] for c in response.json()["items"])

    assert names("operator") == ["Acme", "Other"]
    assert names("admin") == ["Acme"]
    assert names("developer") == ["Acme"]
    assert names("outsider") == ["Other"]
    (developers,) = world.call("developer", "GET", COMPANIES).json()["items"]
    assert developers["role"] == "developer"


def test_companies_page_by_cursor(world: World) -> None:
    for number in range(3):
        world.call("operator", "POST", COMPANIES, {"name": f"C{number}", "admin_username": ADMIN})
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = world.harness.http.get(
            COMPANIES, params=params, headers=bearer(world.tokens["admin"])
        ).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 4 and seen == sorted(seen)
    bad = world.harness.http.get(
        COMPANIES, params={"cursor": encode_cursor("x'; --")}, headers=bearer(world.tokens["admin"])
    )
    assert bad.status_code == 400


@SQLITE_ONLY
def test_an_outsider_gets_the_same_404_as_for_no_company(world: World) -> None:
    member = world.user_ids["developer"]
    theirs = _operations(world.company_id, member)
    nowhere = _operations("0" * 32, member)
    for (method, path, body), (_, missing_path, _) in zip(theirs, nowhere, strict=True):
        outsider = world.call("outsider", method, path, body)
        missing = world.call("outsider", method, missing_path, body)
        assert outsider.status_code == 404, (method, path, outsider.text)
        assert outsider.json()["error"] == missing.json()["error"] == "not_found"
        assert (
            outsider.json()["error_description"].replace(world.company_id, "0" * 32)
            == (missing.json()["error_description"])
        )
    assert world.call("admin", "GET", f"{COMPANIES}/{world.company_id}").json()["name"] == "Acme"


@SQLITE_ONLY
def test_a_developer_sees_the_company_but_may_not_run_it(world: World) -> None:
    one = f"{COMPANIES}/{world.company_id}"
    assert world.call("developer", "GET", one).status_code == 200
    assert world.call("developer", "GET", f"{one}/members").status_code == 200
    admin = world.user_ids["admin"]
    for method, path, body in _operations(world.company_id, admin)[1:]:
        if path.endswith("/members"):
            continue
        response = world.call("developer", method, path, body)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"] == "access_denied"
    assert world.call("admin", "GET", one).json()["name"] == "Acme"


def test_a_rename_against_a_stale_etag_is_412(world: World) -> None:
    one = f"{COMPANIES}/{world.company_id}"
    renamed = world.call("admin", "PATCH", one, {"name": "Acme AS"}, **{"If-Match": world.etag})
    stale = world.call("operator", "PATCH", one, {"name": "Ops"}, **{"If-Match": world.etag})
    stale_delete = world.call("admin", "DELETE", one, **{"If-Match": world.etag})

    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Acme AS"
    assert renamed.headers["etag"] != world.etag
    assert stale.status_code == stale_delete.status_code == 412
    assert stale.json()["error"] == "precondition_failed"
    current = world.call(
        "operator", "PATCH", one, {"name": "Ops"}, **{"If-Match": renamed.headers["etag"]}
    )
    assert current.status_code == 200
    event = world.harness.audit_events("company.renamed")[0]
    assert event.detail["actor"] == f"user:{world.user_ids['admin']}"


def test_a_company_with_apps_is_kept_and_without_is_deleted(world: World) -> None:
    app = Client(
        client_id="acme-app", name="App", client_type=ClientType.PUBLIC, company_id=world.company_id
    )
    store = world.harness.store()
    try:
        with store.transaction() as uow:
            uow.clients.insert(app, world.harness.clock.now())
        one = f"{COMPANIES}/{world.company_id}"
        kept = world.call("admin", "DELETE", one)
        with store.transaction() as uow:
            uow.clients.delete("acme-app")
    finally:
        store.dispose()

    deleted = world.call("admin", "DELETE", one, **{"If-Match": world.etag})

    assert kept.status_code == 409 and kept.json()["error"] == "conflict"
    assert deleted.status_code == 204
    assert world.call("operator", "GET", one).status_code == 404
    assert world.call("developer", "GET", COMPANIES).json()["items"] == []


# --- members --------------------------------------------------------------------------------


@SQLITE_ONLY
def test_members_are_listed_without_secrets(world: World) -> None:
    response = world.call("developer", "GET", f"{COMPANIES}/{world.company_id}/members")

    assert response.status_code == 200, response.text
    # Joined in the same (frozen) instant: their order is the user ids'.
    items = sorted(response.json()["items"], key=lambda m: str(m["username"]))
    assert [(m["username"], m["role"], m["email"]) for m in items] == [
        (ADMIN, "admin", "admin@example.com"),
        (DEVELOPER, "developer", "dev@example.com"),
    ]
    assert set(items[0]) == {"user_id", "role", "joined_at", "username", "name", "email"}
    assert "argon2" not in response.text


def test_the_last_admin_is_neither_demoted_nor_removed(world: World) -> None:
    admin = f"{COMPANIES}/{world.company_id}/members/{world.user_ids['admin']}"
    demoted = world.call("admin", "PATCH", admin, {"role": "developer"})
    removed = world.call("operator", "DELETE", admin)

    assert demoted.status_code == removed.status_code == 409
    assert "last admin" in demoted.json()["error_description"]


def test_an_admin_promotes_and_a_member_leaves(world: World) -> None:
    developer = f"{COMPANIES}/{world.company_id}/members/{world.user_ids['developer']}"
    bad_role = world.call("admin", "PATCH", developer, {"role": "owner"})
    promoted = world.call("admin", "PATCH", developer, {"role": "admin"})
    left = world.call("developer", "DELETE", developer)

    assert bad_role.status_code == 400
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    assert left.status_code == 204
    assert world.call("developer", "GET", f"{COMPANIES}/{world.company_id}").status_code == 404
    (event,) = world.harness.audit_events("company.member_removed")
    assert event.detail["actor"] == f"user:{world.user_ids['developer']}"


# --- invitations ----------------------------------------------------------------------------


def test_an_invitation_goes_by_mail_and_its_link_works_once(world: World) -> None:
    invitations = f"{COMPANIES}/{world.company_id}/invitations"
    sent = world.call("admin", "POST", invitations, {"email": "out@example.com", "role": "admin"})
    assert sent.status_code == 201, sent.text
    token = _token_of_last_mail(world.harness, "out@example.com")
    listed = world.call("admin", "GET", invitations)

    accepted = world.call("outsider", "POST", ACCEPT, {"token": token})
    again = world.call("outsider", "POST", ACCEPT, {"token": token})

    assert token not in sent.text and token not in listed.text
    assert set(sent.json()) == {
        "id",
        "company_id",
        "email",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
    }
    assert [i["email"] for i in listed.json()["items"]] == ["out@example.com"]
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {
        "company_id": world.company_id,
        "company_name": "Acme",
        "role": "admin",
        "already_member": False,
    }
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_request", "error_description": GONE}
    assert world.call("admin", "GET", invitations).json()["items"] == []
    mail = [m for m in world.harness.outbox() if m["to"] == "out@example.com"][-1]
    assert mail["channel"] == "email" and "Acme" in mail["body"]
    assert f"{world.harness.settings.issuer}/portal/invitations?token={token}" in mail["body"]


def test_an_expired_or_unknown_link_gets_the_same_answer(world: World) -> None:
    invitations = f"{COMPANIES}/{world.company_id}/invitations"
    world.call("admin", "POST", invitations, {"email": "out@example.com"})
    token = _token_of_last_mail(world.harness, "out@example.com")
    world.harness.clock.advance(timedelta(days=7))
    fresh = user_login_token(world.harness, OUTSIDER)  # the old token expired too

    answers = [
        world.harness.http.post(ACCEPT, json={"token": t}, headers=bearer(fresh))
        for t in (token, "no-such-token", "")
    ]

    assert [a.status_code for a in answers] == [400, 400, 400]
    assert {a.json()["error_description"] for a in answers} == {GONE}


@SQLITE_ONLY
def test_an_operator_client_cannot_accept(world: World) -> None:
    world.call(
        "admin", "POST", f"{COMPANIES}/{world.company_id}/invitations", {"email": "out@example.com"}
    )
    token = _token_of_last_mail(world.harness, "out@example.com")
    refused = world.call("operator", "POST", ACCEPT, {"token": token})
    assert refused.status_code == 403 and refused.json()["error"] == "access_denied"
    assert world.call("outsider", "POST", ACCEPT, {"token": token}).status_code == 200


def test_a_revoked_invitation_is_gone(world: World) -> None:
    invitations = f"{COMPANIES}/{world.company_id}/invitations"
    sent = world.call("admin", "POST", invitations, {"email": "out@example.com"}).json()
    token = _token_of_last_mail(world.harness, "out@example.com")

    revoked = world.call("admin", "DELETE", f"{invitations}/{sent['id']}")
    twice = world.call("admin", "DELETE", f"{invitations}/{sent['id']}")

    assert revoked.status_code == 204 and twice.status_code == 404
    assert world.call("outsider", "POST", ACCEPT, {"token": token}).status_code == 400
    (event,) = world.harness.audit_events("company.invitation_revoked")
    assert event.detail["actor"] == f"user:{world.user_ids['admin']}"


BAD_INVITATIONS = [
    {},
    {"email": "not-an-address"},
    {"email": "a@b\nBcc: c@d"},
    {"email": "a@example.com", "role": "owner"},
    {"email": "a@example.com", "locale": "sv"},
]


@SQLITE_ONLY
def test_a_bad_invitation_is_400_and_sends_nothing(world: World) -> None:
    for body in BAD_INVITATIONS:
        response = world.call("admin", "POST", f"{COMPANIES}/{world.company_id}/invitations", body)
        assert response.status_code == 400, (body, response.text)
    assert world.harness.outbox() == []


def test_the_21st_invitation_in_an_hour_is_429(world: World) -> None:
    invitations = f"{COMPANIES}/{world.company_id}/invitations"
    for number in range(20):
        sent = world.call("admin", "POST", invitations, {"email": f"p{number}@example.com"})
        assert sent.status_code == 201, sent.text

    refused = world.call("admin", "POST", invitations, {"email": "late@example.com"})

    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert 0 < int(refused.headers["retry-after"]) <= 3600
    assert not [m for m in world.harness.outbox() if m["to"] == "late@example.com"]
    assert (
        world.call("operator", "POST", invitations, {"email": "late@example.com"}).status_code
        == 201
    )


@SQLITE_ONLY
def test_audit_events_name_the_actor_and_never_the_token(world: World) -> None:
    invitations = f"{COMPANIES}/{world.company_id}/invitations"
    world.call("admin", "POST", invitations, {"email": "out@example.com"})
    token = _token_of_last_mail(world.harness, "out@example.com")
    world.call("outsider", "POST", ACCEPT, {"token": token})

    events = world.harness.audit_events("company.*")

    assert [e.event for e in events] == [
        "company.created",
        "company.invitation_sent",
        "company.invitation_accepted",
        "company.member_added",
    ]
    assert [e.detail["actor"] for e in events] == [
        f"user:{world.user_ids[who]}" for who in ("admin", "admin", "outsider", "outsider")
    ]
    assert all(token not in repr(e) for e in events)
    assert events[1].detail["email"] == "out@example.com"


@SQLITE_ONLY
def test_the_answers_match_their_documented_schemas(world: World) -> None:
    document = world.harness.http.get(OPENAPI_PATH).json()
    one = f"{COMPANIES}/{{company_id}}"
    real = f"{COMPANIES}/{world.company_id}"
    sent = world.call("admin", "POST", f"{real}/invitations", {"email": "out@example.com"})
    token = _token_of_last_mail(world.harness, "out@example.com")
    answers = [
        (world.call("developer", "GET", COMPANIES), COMPANIES, "get"),
        (world.call("outsider", "POST", COMPANIES, {"name": "Co"}), COMPANIES, "post"),
        (world.call("developer", "GET", real), one, "get"),
        (world.call("developer", "PATCH", real, {"name": "X"}), one, "patch"),
        (world.call("developer", "GET", f"{real}/members"), f"{one}/members", "get"),
        (sent, f"{one}/invitations", "post"),
        (world.call("admin", "GET", f"{real}/invitations"), f"{one}/invitations", "get"),
        (world.call("outsider", "POST", ACCEPT, {"token": token}), ACCEPT, "post"),
        (world.call("outsider", "POST", ACCEPT, {"token": token}), ACCEPT, "post"),
    ]
    for response, path, method in answers:
        entry = document["paths"][path][method]["responses"][str(response.status_code)]
        schema = entry["content"]["application/json"]["schema"]
        validator = OAS31Validator({**schema, "components": document["components"]})
        validator.validate(response.json())
    assert [a[0].status_code for a in answers] == [200, 201, 200, 403, 200, 201, 200, 200, 400]
