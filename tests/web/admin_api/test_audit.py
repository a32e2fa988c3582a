"""`GET /admin/api/v1/audit`: an operator reads the audit trail as `idplus audit list` does —
filtered by actor, event and time, newest first — page by page with a cursor."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from idplus.config import Settings
from idplus.models import AuditEvent
from idplus.web.admin_api.operations import encode_cursor
from tests.harness import Harness
from tests.web.admin_api.conftest import API, OPERATOR, bearer

AUDIT = f"{API}/audit"


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    """Both databases: the trail's filters and its paging are SQL."""
    return settings.model_copy(update={"database_url": database_url})


def _record(h: Harness, *events: AuditEvent) -> None:
    store = h.store()
    try:
        with store.transaction() as uow:
            for event in events:
                uow.audit.record(event)
    finally:
        store.dispose()


def _list(h: Harness, token: str, **params: Any) -> dict[str, Any]:
    response = h.http.get(AUDIT, params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    listed: dict[str, Any] = response.json()
    return listed


def _events(h: Harness, token: str, **params: Any) -> list[str]:
    return [item["event"] for item in _list(h, token, **params)["items"]]


@pytest.fixture
def trail(harness: Harness, operator_token: str) -> Harness:
    """A shop's and a user's history over three days (on top of the harness's own events)."""
    harness.add_user("+4790000001")
    now = harness.clock.now()
    _record(
        harness,
        AuditEvent("client.added", now - timedelta(days=3), client_id="shop"),
        AuditEvent("user.password_set", now - timedelta(hours=2), user_id="u-1"),
        AuditEvent("user.app_revoked", now - timedelta(minutes=10), client_id="shop",
                   user_id="u-1"),
        AuditEvent("key.rotated", now, detail={"kid": "k-2", "replaced": ["k-1"]}),
    )  # fmt: skip
    return harness


# --- who may read it ------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no SQL involved
def test_without_a_token_the_trail_is_401_with_a_bearer_challenge(harness: Harness) -> None:
    response = harness.http.get(AUDIT)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no SQL involved
def test_a_forged_token_is_401_invalid_token(harness: Harness) -> None:
    response = harness.http.get(AUDIT, headers=bearer("eyJhbGciOiJub25lIn0.e30."))

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json()["error"] == "invalid_token"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no SQL involved
@pytest.mark.parametrize("token_of", ["user_token", "service_token"])
def test_tokens_without_the_admin_scope_are_403(
    harness: Harness, request: pytest.FixtureRequest, token_of: str
) -> None:
    """A user's login token and another client's client_credentials token: valid, not admin."""
    token = request.getfixturevalue(token_of)

    response = harness.http.get(AUDIT, headers=bearer(token))

    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert response.json()["error"] == "insufficient_scope"


def test_an_operator_reads_the_trail_newest_first(trail: Harness, operator_token: str) -> None:
    response = trail.http.get(AUDIT, headers=bearer(operator_token))

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    listed = response.json()
    items = listed["items"]
    assert listed["next_cursor"] is None
    assert items[0] == {
        "id": items[0]["id"],
        "at": trail.clock.now().isoformat().replace("+00:00", "Z"),
        "event": "key.rotated",
        "client_id": None,
        "user_id": None,
        "target": None,
        "detail": {"kid": "k-2", "replaced": ["k-1"]},
    }
    ids = [item["id"] for item in items]
    assert ids == sorted(ids, reverse=True)
    # The harness's own history is there too: the operator client's registration.
    assert {"event": "client.added", "client_id": OPERATOR} in [
        {"event": item["event"], "client_id": item["client_id"]} for item in items
    ]


# --- filters, as `idplus audit list` -------------------------------------------------------


def test_filtering_by_object_client_id_user_id_or_username(
    trail: Harness, operator_token: str
) -> None:
    assert _events(trail, operator_token, object="shop") == ["user.app_revoked", "client.added"]
    assert _events(trail, operator_token, object="u-1") == ["user.app_revoked", "user.password_set"]
    # A username stands for its user: the registration is about the user's id.
    assert _events(trail, operator_token, object="+4790000001") == ["user.added"]
    assert _events(trail, operator_token, object="nobody") == []


def test_filtering_by_who_made_the_change_and_by_typed_object(
    trail: Harness, operator_token: str
) -> None:
    now = trail.clock.now()
    _record(
        trail,
        AuditEvent("company.created", now, target="company:c-1",
                   detail={"actor": "user:u-9", "name": "Acme"}),
        AuditEvent("client.removed", now, client_id="shop", detail={"actor": "client:ops"}),
    )  # fmt: skip
    assert _events(trail, operator_token, actor="user:u-9") == ["company.created"]
    assert _events(trail, operator_token, actor="client:ops") == ["client.removed"]
    assert _events(trail, operator_token, object="company:c-1") == ["company.created"]
    assert _events(trail, operator_token, object="client:shop") == [
        "client.removed",
        "user.app_revoked",
        "client.added",
    ]
    assert _events(trail, operator_token, object="company:c-1", actor="client:ops") == []
    item = _list(trail, operator_token, object="company:c-1")["items"][0]
    assert (item["target"], item["detail"]["actor"]) == ("company:c-1", "user:u-9")


def test_filtering_by_event_names_and_prefixes(trail: Harness, operator_token: str) -> None:
    assert _events(trail, operator_token, event="user.*", object="u-1") == [
        "user.app_revoked",
        "user.password_set",
    ]
    assert _events(trail, operator_token, event="key.rotated,user.password_set") == [
        "key.rotated",
        "user.password_set",
    ]


MINUS_ONE = timezone(timedelta(hours=-1))


@pytest.mark.parametrize(
    ("since_of", "expected"),
    [
        (lambda now: "30m", ["key.rotated", "user.app_revoked"]),
        (lambda now: "1d", ["key.rotated", "user.app_revoked", "user.password_set"]),
        # An ISO-8601 time with its offset, and one without (UTC).
        (
            lambda now: (now - timedelta(minutes=30)).astimezone(MINUS_ONE).isoformat(),
            ["key.rotated", "user.app_revoked"],
        ),
        (
            lambda now: (now - timedelta(hours=3)).replace(tzinfo=None).isoformat(),
            ["key.rotated", "user.app_revoked", "user.password_set"],
        ),
    ],
)
def test_filtering_by_time(
    trail: Harness,
    operator_token: str,
    since_of: Callable[[datetime], str],
    expected: list[str],
) -> None:
    since = since_of(trail.clock.now())
    events = "key.rotated,user.app_revoked,user.password_set"
    assert _events(trail, operator_token, since=since, event=events) == expected


def test_filters_combine(trail: Harness, operator_token: str) -> None:
    assert _events(trail, operator_token, object="shop", since="1d", event="user.*") == [
        "user.app_revoked"
    ]


# --- paging ---------------------------------------------------------------------------------


def test_paging_walks_every_event_once_newest_first(trail: Harness, operator_token: str) -> None:
    everything = [item["id"] for item in _list(trail, operator_token, limit=200)["items"]]
    assert len(everything) > 7

    walked: list[int] = []
    pages = 0
    params: dict[str, Any] = {"limit": 3}
    while True:
        page = _list(trail, operator_token, **params)
        pages += 1
        assert len(page["items"]) <= 3
        walked += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]

    assert walked == everything
    assert pages == -(-len(everything) // 3)


def test_an_event_recorded_while_paging_does_not_shift_the_pages(
    trail: Harness, operator_token: str
) -> None:
    first = _list(trail, operator_token, limit=2)
    _record(trail, AuditEvent("user.added", trail.clock.now(), user_id="u-2"))

    second = _list(trail, operator_token, limit=2, cursor=first["next_cursor"])

    seen = [item["id"] for item in first["items"] + second["items"]]
    assert len(set(seen)) == 4
    assert seen == sorted(seen, reverse=True)
    assert "u-2" not in [item["user_id"] for item in second["items"]]


def test_paging_keeps_the_filters(trail: Harness, operator_token: str) -> None:
    first = _list(trail, operator_token, object="shop", limit=1)
    assert [item["event"] for item in first["items"]] == ["user.app_revoked"]

    second = _list(trail, operator_token, object="shop", limit=1, cursor=first["next_cursor"])

    assert [item["event"] for item in second["items"]] == ["client.added"]
    assert second["next_cursor"] is None


# --- bad queries ----------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no SQL involved
@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not base64!"}, "cursor"),
        ({"cursor": encode_cursor("abc")}, "cursor"),
        ({"cursor": encode_cursor("0")}, "cursor"),
        ({"cursor": encode_cursor("-5")}, "cursor"),
        ({"since": "yesterday"}, "since"),
        ({"since": "999999999w"}, "since"),
        ({"event": "user.*,"}, "event"),
        ({"event": "User Added"}, "event"),
        ({"actor": ""}, "actor"),
        ({"object": ""}, "object"),
        ({"evnet": "user.*"}, "evnet"),
    ],
)
def test_bad_queries_are_400_invalid_request(
    harness: Harness, operator_token: str, query: dict[str, str], problem: str
) -> None:
    response = harness.http.get(AUDIT, params=query, headers=bearer(operator_token))

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == "invalid_request"
    assert body["error_description"].startswith(f"{problem}: ")


# --- the API's own changes ------------------------------------------------------------------


def test_changes_made_through_the_api_name_their_caller(
    harness: Harness, operator_token: str
) -> None:
    created = harness.http.post(
        f"{API}/api-products", json={"scope": "api:tv"}, headers=bearer(operator_token)
    )
    assert created.status_code == 201, created.text

    (event,) = _list(harness, operator_token, event="api_product.changed")["items"]

    assert event["detail"]["actor"] == f"client:{OPERATOR}"
    assert event["detail"]["scope"] == "api:tv"
