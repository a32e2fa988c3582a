"""`/admin/api/v1/apps`: a company's members create, read, change, re-key and delete its apps;
operators reach every app; anyone else gets 404 (they learn nothing), no token 401. Secrets
appear once; entity tags keep two people from undoing each other's changes; a deleted app's
tokens are refused at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from idplus.config import Settings
from idplus.models import COMPANY_ADMIN, COMPANY_DEVELOPER, Company, Membership
from tests.harness import CALLBACK, Harness, basic, code_from_login, exchange_code, refresh
from tests.web.admin_api.conftest import (
    API,
    OPERATOR,
    OPERATOR_SECRET,
    bearer,
    user_login_token,
)

DEVELOPER = "+4791000001"
OUTSIDER = "+4791000002"
NEW_APP = {"name": "Acme TV", "company_id": "acme", "type": "Confidential"}


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    """Both databases: apps, companies and the audit trail are in the store."""
    return settings.model_copy(update={"database_url": database_url})


@dataclass
class Parties:
    """The admin API as each party calls it: `as_(who)` where who is "operator", "member"
    (a developer of company acme), "outsider" (the admin of company globex) or "nobody"."""

    h: Harness
    tokens: dict[str, str]
    member_id: str

    def call(self, who: str, method: str, path: str, **options: Any) -> Any:
        headers = {**options.pop("headers", {})}
        if who != "nobody":
            headers.update(bearer(self.tokens[who]))
        return self.h.http.request(method, f"{API}{path}", headers=headers, **options)

    def create(self, who: str = "member", **fields: Any) -> Any:
        response = self.call(who, "POST", "/apps", json={**NEW_APP, **fields})
        assert response.status_code == 201, response.text
        return response


def _user_id(h: Harness, username: str) -> str:
    return h.user(username).id


def _company(h: Harness, company_id: str, user_id: str, role: str) -> None:
    """A company and its member, straight into the store (the companies API is another's)."""
    store = h.store()
    try:
        with store.transaction() as uow:
            uow.companies.insert(Company(company_id, company_id.title(), h.clock.now(), "user:x"))
            uow.companies.add_member(Membership(company_id, user_id, role, h.clock.now()))
    finally:
        store.dispose()


@pytest.fixture
def parties(harness: Harness, operator_token: str) -> Parties:
    harness.add_user(DEVELOPER)
    harness.add_user(OUTSIDER)
    member_id = _user_id(harness, DEVELOPER)
    _company(harness, "acme", member_id, COMPANY_DEVELOPER)
    _company(harness, "globex", _user_id(harness, OUTSIDER), COMPANY_ADMIN)
    tokens = {
        "operator": operator_token,
        "member": user_login_token(harness, DEVELOPER),
        "outsider": user_login_token(harness, OUTSIDER),
    }
    return Parties(harness, tokens, member_id)


def _cache_expires(h: Harness) -> None:
    """Registry changes reach the token endpoints (every worker) within client_cache_seconds."""
    h.clock.advance(timedelta(seconds=h.settings.client_cache_seconds))


def _client_credentials(h: Harness, client_id: str, secret: str) -> Any:
    return h.http.post(
        "/connect/token",
        data={"grant_type": "client_credentials"},
        headers=basic(client_id, secret),
    )


def test_a_member_creates_an_app_whose_secret_is_shown_once(parties: Parties) -> None:
    created = parties.create(grant_types=["client_credentials"])

    app = created.json()
    app_id, secret = app["client_id"], app["client_secret"]
    assert app_id.startswith("app-")
    assert (app["name"], app["company_id"], app["type"]) == ("Acme TV", "acme", "Confidential")
    assert app["grant_types"] == ["client_credentials"]
    assert app["api_access"] is False and app["api_products"] == []
    shown = parties.call("member", "GET", f"/apps/{app_id}")
    assert shown.status_code == 200
    assert "client_secret" not in shown.json()
    assert shown.headers["etag"] == created.headers["etag"]
    assert _client_credentials(parties.h, app_id, secret).status_code == 200
    [event] = parties.h.audit_events("client.added")[-1:]
    assert event.client_id == app_id
    assert event.detail["actor"] == f"user:{parties.member_id}"
    assert secret not in str(event.detail)


def test_only_name_company_and_type_are_required(parties: Parties) -> None:
    app = parties.create(type="PublicWithRefresh", redirect_uris=[CALLBACK]).json()
    assert app["client_secret"] is None
    assert app["grant_types"] == ["authorization_code", "refresh_token"]
    for missing in ("name", "company_id", "type"):
        body = {k: v for k, v in NEW_APP.items() if k != missing}
        refused = parties.call("member", "POST", "/apps", json=body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error_description"].startswith(f"{missing}: Field required")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("fields", "status", "problem"),
    [
        ({"scopes": ["idplus:admin"]}, 400, "not for apps"),
        ({"scopes": ["api:tv"]}, 400, "request the API product"),
        ({"name": "Acme\nTV"}, 400, "plain text on one line"),
        ({"client_id": "mine"}, 400, "client_id: Extra inputs are not permitted"),
        ({"secret": "my-own-secret-0123456789"}, 400, "secret: Extra inputs"),
        ({"api_access": True}, 400, "api_access: Extra inputs"),
        ({"one_telenor": True}, 403, "only an operator"),
        ({"company_id": "globex"}, 404, "no company 'globex'"),
    ],
)
def test_what_a_member_cannot_create(
    parties: Parties, fields: dict[str, Any], status: int, problem: str
) -> None:
    refused = parties.call("member", "POST", "/apps", json={**NEW_APP, **fields})
    assert refused.status_code == status, refused.text
    assert problem in refused.json()["error_description"]
    assert parties.call("operator", "GET", "/apps").json()["items"] == []


def test_each_party_reaches_what_it_may(parties: Parties) -> None:
    app_id = parties.create().json()["client_id"]
    requests = [
        ("GET", f"/apps/{app_id}", {}),
        ("PATCH", f"/apps/{app_id}", {"json": {"name": "Renamed"}}),
        ("POST", f"/apps/{app_id}/rotate-secret", {"json": {}}),
        ("DELETE", f"/apps/{app_id}/secrets/whatever", {}),
        ("POST", f"/apps/{app_id}/subscriptions", {"json": {"scope": "api:tv"}}),
        ("DELETE", f"/apps/{app_id}", {}),
    ]
    for method, path, options in requests:
        outsider = parties.call("outsider", method, path, **options)
        assert outsider.status_code == 404, (method, path, outsider.text)
        assert outsider.json() == {
            "error": "not_found",
            "error_description": f"no app {app_id!r}",
        }
        nobody = parties.call("nobody", method, path, **options)
        assert nobody.status_code == 401, (method, path)
        assert nobody.headers["www-authenticate"].startswith("Bearer")
    assert parties.call("member", "GET", f"/apps/{app_id}").json()["name"] == "Acme TV"
    assert parties.call("operator", "GET", f"/apps/{app_id}").status_code == 200
    assert parties.call("outsider", "POST", "/apps", json=NEW_APP).status_code == 404
    assert parties.call("operator", "DELETE", f"/apps/{app_id}").status_code == 204


def test_a_client_that_is_no_app_is_not_found_here(parties: Parties) -> None:
    assert parties.call("operator", "GET", f"/apps/{OPERATOR}").status_code == 404
    assert parties.call("member", "DELETE", f"/apps/{OPERATOR}").status_code == 404


def test_lists_show_each_party_its_own(parties: Parties) -> None:
    mine = sorted(parties.create(type="Public").json()["client_id"] for _ in range(3))
    theirs = parties.create("outsider", company_id="globex").json()["client_id"]

    def listed(who: str, **params: Any) -> list[str]:
        response = parties.call(who, "GET", "/apps", params=params)
        assert response.status_code == 200, response.text
        return [app["client_id"] for app in response.json()["items"]]

    assert listed("member") == mine
    assert listed("outsider") == [theirs]
    assert listed("operator") == sorted([*mine, theirs])
    assert listed("operator", company_id="globex") == [theirs]
    assert parties.call("outsider", "GET", "/apps", params={"company_id": "acme"}).status_code == (
        404
    )
    assert parties.call("nobody", "GET", "/apps").status_code == 401
    pages, cursor = [], None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = parties.call("member", "GET", "/apps", params=params).json()
        pages.append([app["client_id"] for app in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [mine[:2], mine[2:]]
    bad = parties.call("member", "GET", "/apps", params={"cursor": "bm90LWFuLWFwcA"})
    assert bad.status_code == 400


def test_changes_are_validated_and_never_silently_overwrite(parties: Parties) -> None:
    created = parties.create(redirect_uris=[CALLBACK])
    app_id, first_tag = created.json()["client_id"], created.headers["etag"]

    changed = parties.call(
        "operator", "PATCH", f"/apps/{app_id}", headers={"If-Match": first_tag},
        json={"name": "Acme TV+", "redirect_uris": [CALLBACK, f"{CALLBACK}2"],
              "access_token_lifetime": 600},
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Acme TV+"
    assert changed.json()["redirect_uris"] == [CALLBACK, f"{CALLBACK}2"]
    assert changed.json()["access_token_lifetime"] == 600
    assert changed.headers["etag"] != first_tag

    stale = parties.call(
        "member", "PATCH", f"/apps/{app_id}", headers={"If-Match": first_tag},
        json={"name": "Mine"},
    )  # fmt: skip
    assert stale.status_code == 412
    assert stale.json()["error"] == "precondition_failed"
    for body, status in (
        ({"redirect_uris": ["http://acme.example/cb"]}, 400),
        ({"name": None}, 400),
        ({"type": "Public"}, 400),
        ({"company_id": "globex"}, 400),
        ({"one_telenor": True}, 403),
    ):
        refused = parties.call("member", "PATCH", f"/apps/{app_id}", json=body)
        assert refused.status_code == status, (body, refused.text)
    cleared = parties.call(
        "member", "PATCH", f"/apps/{app_id}", json={"access_token_lifetime": None}
    )
    assert cleared.status_code == 200
    assert cleared.json()["access_token_lifetime"] is None
    assert cleared.json()["name"] == "Acme TV+"


def test_rotation_with_an_overlap_and_revoking_the_older_secret(parties: Parties) -> None:
    created = parties.create(grant_types=["client_credentials"]).json()
    app_id, old = created["client_id"], created["client_secret"]
    parties.h.clock.advance(timedelta(minutes=1))

    rotated = parties.call(
        "member", "POST", f"/apps/{app_id}/rotate-secret", json={"overlap_seconds": 600}
    )
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()["client_secret"]
    older, current = rotated.json()["secrets"]
    assert older["expires_at"] is not None and current["expires_at"] is None
    _cache_expires(parties.h)
    assert _client_credentials(parties.h, app_id, old).status_code == 200
    assert _client_credentials(parties.h, app_id, new).status_code == 200

    current_refused = parties.call("member", "DELETE", f"/apps/{app_id}/secrets/{current['id']}")
    assert current_refused.status_code == 400
    assert "current one" in current_refused.json()["error_description"]
    assert parties.call("member", "DELETE", f"/apps/{app_id}/secrets/nope").status_code == 404
    revoked = parties.call("member", "DELETE", f"/apps/{app_id}/secrets/{older['id']}")
    assert revoked.status_code == 200, revoked.text
    assert [s["id"] for s in revoked.json()["secrets"]] == [current["id"]]
    _cache_expires(parties.h)
    assert _client_credentials(parties.h, app_id, old).status_code == 401
    assert _client_credentials(parties.h, app_id, new).status_code == 200


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_overlap_is_zero_to_thirty_days(parties: Parties) -> None:
    app_id = parties.create().json()["client_id"]
    for overlap in (-1, 30 * 86_400 + 1, "60"):
        refused = parties.call(
            "member", "POST", f"/apps/{app_id}/rotate-secret", json={"overlap_seconds": overlap}
        )
        assert refused.status_code == 400, refused.text
    default = parties.call("member", "POST", f"/apps/{app_id}/rotate-secret", json={})
    assert default.status_code == 201
    no_overlap = parties.call(
        "member", "POST", f"/apps/{app_id}/rotate-secret", json={"overlap_seconds": 0}
    )
    assert len(no_overlap.json()["secrets"]) == 1


def test_a_deleted_apps_tokens_are_refused_at_once(parties: Parties) -> None:
    h = parties.h
    app = parties.create(type="PublicWithRefresh", redirect_uris=[CALLBACK]).json()
    app_id = app["client_id"]
    code = code_from_login(h, app_id, DEVELOPER, scope="openid offline_access")
    answer = exchange_code(h, code, app_id).json()
    user_token = bearer(answer["access_token"])

    def introspected() -> Any:
        return h.http.post(
            "/connect/introspect",
            data={"token": answer["access_token"]},
            headers=basic(OPERATOR, OPERATOR_SECRET),
        ).json()

    assert h.http.get("/connect/userinfo", headers=user_token).status_code == 200
    assert introspected()["active"] is True

    stale = parties.call("member", "DELETE", f"/apps/{app_id}", headers={"If-Match": '"old"'})
    assert stale.status_code == 412
    assert parties.call("member", "DELETE", f"/apps/{app_id}").status_code == 204

    # No cache expiry: within client_cache_seconds of the deletion.
    assert introspected() == {"active": False}
    refused = h.http.get("/connect/userinfo", headers=user_token)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"
    renewed = refresh(h, answer["refresh_token"], app_id)
    # Refused either way: as an unknown client once the registry watch has emptied the client
    # cache (within half a second), or, from a cached client before that, as a token that is
    # no longer there (its rows went with the client).
    assert (renewed.status_code, renewed.json()["error"]) in (
        (400, "invalid_grant"),
        (401, "invalid_client"),
    )
    assert parties.call("member", "GET", f"/apps/{app_id}").status_code == 404
    [event] = h.audit_events("client.removed")
    assert event.detail["actor"] == f"user:{parties.member_id}"
