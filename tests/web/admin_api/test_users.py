"""`/admin/api/v1/users`: operators (an idplus:admin client, or a user given the operator role
through the console) find users and act on them; developers and strangers cannot. A lock ends
the user's sessions, tells their apps over the back channel and stops their refresh tokens; a
second-factor reset removes their passkeys; the last operator keeps their role. Every change
is in the audit trail with who made it."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idplus.config import Settings
from idplus.policies import ADMIN_SCOPE, CONSOLE_CLIENT_ID, OPERATOR_ROLE
from tests.harness import Harness, code_from_login, exchange_code, refresh
from tests.outbound.receiver import Receiver, pending, wait_until
from tests.store.sql.test_passkeys import _passkey
from tests.web.admin_api.conftest import API, bearer, make_operator, user_login_token

KARI = "+4790000001"
OLA = "+4790000002"
PER = "per_hansen@example.no"


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    """Both databases: search is SQL (LIKE and lower() differ between them)."""
    return settings.model_copy(update={"database_url": database_url})


def user_id(h: Harness, username: str) -> str:
    return h.user(username).id


@pytest.fixture
def people(harness: Harness) -> Harness:
    harness.add_user(KARI, given_name="Kari", family_name="Nordmann")
    harness.add_user(OLA, given_name="Ola", family_name="Nordmann")
    harness.add_user(PER, given_name="Per", family_name="Hansen")
    return harness


def _get(h: Harness, token: str, path: str, **params: Any) -> Any:
    return h.http.get(f"{API}{path}", params=params, headers=bearer(token))


def test_an_operator_finds_users_page_by_page(people: Harness, operator_token: str) -> None:
    first = _get(people, operator_token, "/users", q="nord", limit=1)
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    page = first.json()
    second = _get(people, operator_token, "/users", q="nord", cursor=page["next_cursor"]).json()

    found = [item["username"] for item in page["items"] + second["items"]]
    assert sorted(found) == [KARI, OLA]
    assert second["next_cursor"] is None
    assert "password" not in first.text and "hash" not in first.text
    assert page["items"][0]["locked_at"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [("900 00 002", [OLA]), ("PER_", [PER]), ("%", []), ("Kari Nord", [KARI])],
)
def test_search_reads_phone_numbers_any_case_and_wildcards_literally(
    people: Harness, operator_token: str, query: str, expected: list[str]
) -> None:
    answer = _get(people, operator_token, "/users", q=query)
    assert [item["username"] for item in answer.json()["items"]] == expected


@pytest.mark.parametrize(
    "params",
    [{"cursor": "not a cursor"}, {"limit": "0"}, {"limit": "201"}, {"query": "kari"},
     {"q": "x" * 321}],
)  # fmt: skip
def test_bad_search_parameters_are_400(
    harness: Harness, operator_token: str, params: dict[str, str]
) -> None:
    answer = _get(harness, operator_token, "/users", **params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_request"


def test_one_user_with_roles_passkeys_accounts_and_sessions(
    harness: Harness, operator_token: str
) -> None:
    harness.add_client("spa")
    harness.add_user(KARI)
    code_from_login(harness)
    kari = user_id(harness, KARI)
    store = harness.store()
    try:
        with store.transaction() as uow:
            uow.passkeys.insert(_passkey("pk1", user_id=kari))
            uow.upstream_accounts.insert_if_absent("google", "g-1", kari, harness.clock.now())
    finally:
        store.dispose()

    answer = _get(harness, operator_token, f"/users/{kari}")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["username"], body["roles"], body["passkeys"], body["live_sessions"]) == (
        KARI,
        [],
        1,
        1,
    )
    assert body["upstream_accounts"][0]["provider_id"] == "google"
    assert _get(harness, operator_token, "/users/nobody").status_code == 404


def test_locking_ends_sessions_tells_apps_and_stops_refresh_until_unlocked(
    harness: Harness, operator_token: str
) -> None:
    receiver = Receiver()
    try:
        harness.add_client("app", client_type="MobileApp", one_telenor=True,
                           scopes=["openid", "offline_access"],
                           backchannel_logout_uri=receiver.uri)  # fmt: skip
        harness.add_user(KARI)
        code = code_from_login(harness, "app", scope="openid offline_access")
        tokens = exchange_code(harness, code, "app").json()
        kari = user_id(harness, KARI)

        locked = harness.http.post(f"{API}/users/{kari}/lock", json={"reason": "stolen phone"},
                                   headers=bearer(operator_token))  # fmt: skip

        assert locked.status_code == 200, locked.text
        assert locked.json()["locked_at"] is not None
        assert locked.json()["live_sessions"] == 0
        wait_until(lambda: pending(harness.settings.database_url) == 0, "the logout token")
        (logout_token,) = receiver.tokens
    finally:
        receiver.close()
    jwks = KeySet.import_key_set(harness.http.get("/.well-known/jwks.json").json())
    sid = jwt.decode(tokens["id_token"], jwks).claims["sid"]
    assert jwt.decode(logout_token, jwks).claims["sid"] == sid
    assert refresh(harness, tokens["refresh_token"], "app").json()["error"] == "invalid_grant"
    [event] = harness.audit_events("user.locked")
    assert event.detail["actor"] == "client:ops-console"
    assert event.detail["reason"] == "stolen phone"

    unlocked = harness.http.post(f"{API}/users/{kari}/unlock", headers=bearer(operator_token))
    assert unlocked.status_code == 200, unlocked.text
    assert unlocked.json()["locked_at"] is None
    code_from_login(harness, "app")  # logs in again
    assert [e.detail["actor"] for e in harness.audit_events("user.unlocked")] == [
        "client:ops-console"
    ]


def test_resetting_the_second_factor(harness: Harness, operator_token: str) -> None:
    harness.add_user(KARI)
    kari = user_id(harness, KARI)
    store = harness.store()
    try:
        with store.transaction() as uow:
            uow.passkeys.insert(_passkey("pk1", user_id=kari))
    finally:
        store.dispose()
    path = f"{API}/users/{kari}/reset-second-factor"

    bad = harness.http.post(path, json={"phone_number": "123"}, headers=bearer(operator_token))
    done = harness.http.post(path, json={"phone_number": "900 11 222"},
                             headers=bearer(operator_token))  # fmt: skip

    assert bad.status_code == 400, bad.text
    assert done.status_code == 200, done.text
    assert (done.json()["passkeys"], done.json()["phone_number"]) == (0, "+4790011222")
    [event] = harness.audit_events("user.second_factor_reset")
    assert event.detail["after"] == {"phone_number": "+47 ••• •• 222"}


def test_roles_are_given_and_taken_but_never_from_the_last_operator(
    harness: Harness, operator_token: str
) -> None:
    harness.add_user(KARI)
    kari = user_id(harness, KARI)
    role_path = f"{API}/users/{kari}/roles/{OPERATOR_ROLE}"

    granted = harness.http.put(role_path, headers=bearer(operator_token))
    assert granted.status_code == 200, granted.text
    assert granted.json()["roles"] == [OPERATOR_ROLE]
    unknown = harness.http.put(f"{API}/users/{kari}/roles/admin", headers=bearer(operator_token))
    assert unknown.status_code == 400

    # Kari through the console, with the operator client gone: she is the last operator.
    console = user_login_token(harness, KARI, CONSOLE_CLIENT_ID)
    assert (
        harness.http.delete(f"{API}/clients/ops-console", headers=bearer(console)).status_code
        == 204
    )
    last = harness.http.delete(role_path, headers=bearer(console))
    assert last.status_code == 409, last.text
    assert last.json()["error"] == "conflict"
    lock = harness.http.post(f"{API}/users/{kari}/lock", json={}, headers=bearer(console))
    assert lock.status_code == 409, lock.text

    harness.add_user(OLA)
    ola = user_id(harness, OLA)
    assert harness.http.put(f"{API}/users/{ola}/roles/{OPERATOR_ROLE}",
                            headers=bearer(console)).status_code == 200  # fmt: skip
    taken = harness.http.delete(role_path, headers=bearer(console))
    assert taken.status_code == 200, taken.text
    assert taken.json()["roles"] == []
    actors = {e.detail["actor"] for e in harness.audit_events("user.role_*")}
    assert actors == {"client:ops-console", f"user:{kari}"}


# ---- who may ------------------------------------------------------------------------------

OPERATIONS: list[tuple[str, str, dict[str, str] | None]] = [
    ("GET", "/users", None),
    ("GET", "/users/{id}", None),
    ("POST", "/users/{id}/lock", {}),
    ("POST", "/users/{id}/unlock", None),
    ("POST", "/users/{id}/reset-second-factor", {}),
    ("PUT", "/users/{id}/roles/operator", None),
    ("DELETE", "/users/{id}/roles/operator", None),
]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_developers_and_strangers_are_refused(harness: Harness) -> None:
    """Who may call is decided before any SQL of the operation: SQLite is enough."""
    harness.add_user(KARI)
    kari = user_id(harness, KARI)
    developer = user_login_token(harness, KARI)  # the portal's token
    for method, path, body in OPERATIONS:
        url = API + path.format(id=kari)
        as_developer = harness.http.request(method, url, json=body, headers=bearer(developer))
        stranger = harness.http.request(method, url, json=body)
        assert as_developer.status_code == 403, (method, path, as_developer.text)
        assert as_developer.json()["error"] == "insufficient_scope"
        assert stranger.status_code == 401, (method, path, stranger.text)
    changes = ("user.locked", "user.unlocked", "user.second_factor_reset", "user.role_*")
    assert harness.audit_events(*changes) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_operator_user_may_do_what_an_operator_client_may(harness: Harness) -> None:
    harness.add_client("ops2", client_type="Confidential", secret="ops2-secret-0123456789",
                       scopes=[ADMIN_SCOPE], grant_types=["client_credentials"])  # fmt: skip
    harness.add_user(KARI)
    harness.add_user(OLA)
    make_operator(harness, KARI)
    console = user_login_token(harness, KARI, CONSOLE_CLIENT_ID)
    ola = user_id(harness, OLA)
    for method, path, body in OPERATIONS:
        url = API + path.format(id=ola)
        answer = harness.http.request(method, url, json=body, headers=bearer(console))
        assert answer.status_code == 200, (method, path, answer.text)


@pytest.mark.parametrize(
    ("method", "path", "options", "status"),
    [
        ("GET", "/users/%00", {}, 400),
        ("GET", "/users/" + "x" * 5000, {}, 404),
        ("POST", "/users/{id}/lock", {"content": b"reason=x"}, 400),
        ("POST", "/users/{id}/lock", {"json": {"reason": 5}}, 400),
        ("POST", "/users/{id}/lock", {"json": {"why": "x"}}, 400),
        ("POST", "/users/{id}/lock", {"json": {"reason": "a\nb"}}, 400),
        ("POST", "/users/{id}/reset-second-factor", {"json": {"phone_number": "x" * 33}}, 400),
        ("PUT", "/users/{id}/roles/%00", {}, 400),
        ("DELETE", "/users/{id}/roles/" + "r" * 500, {}, 400),
    ],
)
def test_odd_input_is_a_4xx_and_changes_nothing(
    harness: Harness,
    operator_token: str,
    method: str,
    path: str,
    options: dict[str, Any],
    status: int,
) -> None:
    harness.add_user(KARI)
    url = API + path.format(id=user_id(harness, KARI))
    answer = harness.http.request(method, url, headers=bearer(operator_token), **options)
    assert answer.status_code == status, answer.text
    assert set(answer.json()) == {"error", "error_description"}
    changes = ("user.locked", "user.second_factor_reset", "user.role_*")
    assert harness.audit_events(*changes) == []
