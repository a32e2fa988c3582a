"""API subscription requests over the admin API: a member's app asks for an API product, an
operator approves, and the app's client then gets the product's `api:` scope at /connect/token
and /oauth/v2/token; each request is decided once, by an operator only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from idplus.web.admin_api.operations import encode_cursor
from tests.harness import Harness, basic
from tests.web.admin_api import test_apps
from tests.web.admin_api.test_apps import Parties

# The same parties (operator, member, outsider) on both databases.
settings = test_apps.settings
parties = test_apps.parties


def _app(p: Parties) -> tuple[str, str]:
    created = p.create(grant_types=["client_credentials"]).json()
    return created["client_id"], created["client_secret"]


def _request(p: Parties, app_id: str, scope: str = "api:tv", who: str = "member") -> Any:
    return p.call(who, "POST", f"/apps/{app_id}/subscriptions", json={"scope": scope})


def _connect_token(h: Harness, app_id: str, secret: str) -> Any:
    return h.http.post(
        "/connect/token",
        data={"grant_type": "client_credentials", "scope": "api:tv"},
        headers=basic(app_id, secret),
    )


def _gateway_token(h: Harness, app_id: str, secret: str) -> Any:
    return h.http.post(
        "/oauth/v2/token",
        data={"grant_type": "client_credentials", "scope": "api:tv"},
        headers=basic(app_id, secret),
    )


def _cache_expires(h: Harness) -> None:
    """Registry changes reach the token endpoints (every worker) within client_cache_seconds."""
    h.clock.advance(timedelta(seconds=h.settings.client_cache_seconds))


def test_an_approved_app_gets_the_api_scope_on_both_fronts(parties: Parties) -> None:
    h = parties.h
    h.add_api_products("api:tv")
    app_id, secret = _app(parties)
    before = _connect_token(h, app_id, secret)
    assert before.status_code == 400
    assert before.json()["error"] == "invalid_scope"
    refused = _gateway_token(h, app_id, secret)
    assert refused.status_code == 500
    assert refused.json()["error_code"] == 16

    requested = _request(parties, app_id)
    assert requested.status_code == 201, requested.text
    request = requested.json()
    assert (request["client_id"], request["scope"], request["status"]) == (
        app_id, "api:tv", "pending"
    )  # fmt: skip
    assert request["requested_by"] == f"user:{parties.member_id}"
    assert parties.call("member", "POST", f"/subscription-requests/{request['id']}/approve")\
        .status_code == 403  # fmt: skip
    approved = parties.call("operator", "POST", f"/subscription-requests/{request['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"

    _cache_expires(h)
    token = _connect_token(h, app_id, secret)
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "api:tv"
    gateway = _gateway_token(h, app_id, secret)
    assert gateway.status_code == 200, gateway.text
    app = parties.call("member", "GET", f"/apps/{app_id}").json()
    assert app["api_access"] is True and app["api_products"] == ["api:tv"]
    events = [(e.event, e.detail.get("actor")) for e in h.audit_events("api_subscription.*")]
    assert events == [
        ("api_subscription.requested", f"user:{parties.member_id}"),
        ("api_subscription.approved", "client:ops-console"),
    ]


def test_a_rejected_request_says_why_and_is_decided_once(parties: Parties) -> None:
    parties.h.add_api_products("api:tv")
    app_id, _ = _app(parties)
    request_id = _request(parties, app_id).json()["id"]

    rejected = parties.call(
        "operator", "POST", f"/subscription-requests/{request_id}/reject",
        json={"reason": "no contract yet"},
    )  # fmt: skip
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["reason"]) == ("rejected", "no contract yet")
    for decision, body in (("approve", None), ("reject", {})):
        again = parties.call(
            "operator", "POST", f"/subscription-requests/{request_id}/{decision}", json=body
        )
        assert again.status_code == 409, again.text
        assert again.json()["error"] == "conflict"
    assert parties.call("member", "GET", f"/apps/{app_id}").json()["api_access"] is False
    unknown = parties.call("operator", "POST", "/subscription-requests/nope/approve")
    assert unknown.status_code == 404


def test_what_an_app_cannot_request(parties: Parties) -> None:
    parties.h.add_api_products("api:tv")
    app_id, _ = _app(parties)
    assert _request(parties, app_id).status_code == 201

    pending = _request(parties, app_id)
    assert pending.status_code == 409
    assert "pending already" in pending.json()["error_description"]
    assert _request(parties, app_id, "api:nothing").status_code == 404
    assert _request(parties, app_id, "openid").status_code == 400
    assert _request(parties, app_id, who="outsider").status_code == 404
    assert _request(parties, app_id, who="nobody").status_code == 401


def test_each_party_lists_what_it_may_and_only_operators_decide(parties: Parties) -> None:
    parties.h.add_api_products("api:tv", "api:music")
    app_id, _ = _app(parties)
    tv = _request(parties, app_id).json()["id"]
    music = _request(parties, app_id, "api:music").json()["id"]
    parties.call("operator", "POST", f"/subscription-requests/{tv}/approve")

    def listed(who: str, **params: str) -> list[str]:
        response = parties.call(who, "GET", "/subscription-requests", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert sorted(listed("operator")) == sorted([tv, music])
    assert listed("operator", status="pending") == [music]
    assert listed("member", status="approved") == [tv]
    assert listed("outsider") == []
    assert parties.call("nobody", "GET", "/subscription-requests").status_code == 401
    for who in ("member", "outsider"):
        refused = parties.call(who, "POST", f"/subscription-requests/{music}/reject", json={})
        assert refused.status_code == 403, refused.text
    first = parties.call("operator", "GET", "/subscription-requests", params={"limit": "1"})
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    rest = parties.call(
        "operator", "GET", "/subscription-requests", params={"limit": "1", "cursor": cursor}
    ).json()
    assert rest["next_cursor"] is None
    assert {first.json()["items"][0]["id"], rest["items"][0]["id"]} == {tv, music}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "params",
    [
        {"status": "maybe"},
        {"cursor": "%%%"},
        {"cursor": "eCB5"},
        {"limit": "0"},
        # Times with no UTC equivalent, and one without an offset.
        {"cursor": encode_cursor("0001-01-01T00:00:00+14:00 " + "a" * 32)},
        {"cursor": encode_cursor("9999-12-31T23:59:59-14:00 " + "a" * 32)},
        {"cursor": encode_cursor("2026-01-01T00:00:00 " + "a" * 32)},
    ],
)
def test_bad_list_queries_are_400(parties: Parties, params: dict[str, str]) -> None:
    response = parties.call("operator", "GET", "/subscription-requests", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"


def test_a_member_withdraws_a_pending_request(parties: Parties) -> None:
    parties.h.add_api_products("api:tv")
    app_id, _ = _app(parties)
    request_id = _request(parties, app_id).json()["id"]

    assert parties.call("outsider", "DELETE", f"/subscription-requests/{request_id}").status_code \
        == 404  # fmt: skip
    assert parties.call("member", "DELETE", f"/subscription-requests/{request_id}").status_code \
        == 204  # fmt: skip
    assert parties.call("operator", "GET", "/subscription-requests").json()["items"] == []
    assert [e.event for e in parties.h.audit_events("api_subscription.*")] == [
        "api_subscription.requested",
        "api_subscription.cancelled",
    ]
