"""`/admin/api/v1/clients`: an operator registers, reads, pages through, re-keys and removes
clients. Secrets are shown once; entity tags keep two operators from undoing each other's
changes (RFC 9110 §13.1.1); the audit trail names who did what and holds no secret."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from idplus.config import Settings
from idplus.manage.clients import describe_client, get_client, list_clients
from idplus.policies import ACCOUNT_CLIENT_ID
from tests.harness import CALLBACK, Harness, basic, code_from_login, exchange_code, refresh
from tests.web.admin_api.conftest import API, OPERATOR, OPERATOR_SECRET, bearer

SHOP = {
    "client_id": "shop",
    "client_type": "Confidential",
    "name": "Telenor Shop",
    "redirect_uris": [CALLBACK],
    "scopes": ["openid", "profile"],
}


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    """Both databases: the registry, its versions and the audit trail are in the store."""
    return settings.model_copy(update={"database_url": database_url})


@dataclass
class Operator:
    """Calls the admin API with the operator's token; `h` does everything else."""

    h: Harness
    token: str

    def get(self, path: str, **options: Any) -> Any:
        return self.h.http.get(path, headers=self._headers(options), **options)

    def post(self, path: str, **options: Any) -> Any:
        return self.h.http.post(path, headers=self._headers(options), **options)

    def delete(self, path: str, **options: Any) -> Any:
        return self.h.http.delete(path, headers=self._headers(options), **options)

    def _headers(self, options: dict[str, Any]) -> dict[str, str]:
        return {**bearer(self.token), **options.pop("headers", {})}


@pytest.fixture
def ops(harness: Harness, operator_token: str) -> Operator:
    return Operator(harness, operator_token)


def _create(h: Operator, **fields: Any) -> Any:
    response = h.post(f"{API}/clients", json={**SHOP, **fields})
    assert response.status_code == 201, response.text
    return response


def _secret_works(h: Harness, client_id: str, secret: str) -> bool:
    """Whether the secret authenticates the client (at introspection: any Confidential may)."""
    answer = h.http.post(
        "/connect/introspect", data={"token": "x"}, headers=basic(client_id, secret)
    )
    return bool(answer.status_code == 200)


def _cache_expires(h: Harness) -> None:
    """Registry changes reach the token endpoints (every worker) within client_cache_seconds."""
    h.clock.advance(timedelta(seconds=h.settings.client_cache_seconds))


def _stored(h: Harness, client_id: str) -> dict[str, Any]:
    store = h.store()
    try:
        return describe_client(get_client(store, client_id))
    finally:
        store.dispose()


def _stored_hashes(h: Harness, client_id: str) -> list[str]:
    store = h.store()
    try:
        return [s.secret_hash for s in get_client(store, client_id).secrets]
    finally:
        store.dispose()


def test_an_operator_registers_reads_rekeys_and_removes_a_client(ops: Operator) -> None:
    created = _create(ops)
    client = created.json()
    secret = client.pop("client_secret")
    assert len(secret) >= 16
    assert _secret_works(ops.h, "shop", secret)
    assert (client["client_id"], client["type"], client["name"]) == (
        "shop", "Confidential", "Telenor Shop"
    )  # fmt: skip
    first_tag = created.headers["etag"]

    shown = ops.get(f"{API}/clients/shop")
    assert shown.status_code == 200
    assert shown.headers["etag"] == first_tag
    assert shown.json() == client
    assert "client_secret" not in shown.json()

    rotated = ops.post(f"{API}/clients/shop/rotate-secret", headers={"If-Match": first_tag})
    assert rotated.status_code == 201, rotated.text
    new_secret = rotated.json()["client_secret"]
    assert new_secret != secret
    assert len(rotated.json()["secrets"]) == 2
    _cache_expires(ops.h)
    # The app switches over without downtime: the previous secret still works.
    assert _secret_works(ops.h, "shop", new_secret)
    assert _secret_works(ops.h, "shop", secret)
    fresh_tag = rotated.headers["etag"]
    assert fresh_tag != first_tag
    assert ops.get(f"{API}/clients/shop").headers["etag"] == fresh_tag

    stale = ops.delete(f"{API}/clients/shop", headers={"If-Match": first_tag})
    assert stale.status_code == 412
    assert stale.json()["error"] == "precondition_failed"
    assert ops.get(f"{API}/clients/shop").status_code == 200

    removed = ops.delete(f"{API}/clients/shop", headers={"If-Match": fresh_tag})
    assert removed.status_code == 204
    assert removed.content == b""
    gone = ops.get(f"{API}/clients/shop")
    assert gone.status_code == 404
    assert gone.json()["error"] == "not_found"
    _cache_expires(ops.h)
    assert not _secret_works(ops.h, "shop", new_secret)


def test_a_rotation_from_a_stale_copy_changes_nothing(ops: Operator) -> None:
    tag = _create(ops).headers["etag"]
    assert ops.post(f"{API}/clients/shop/rotate-secret").status_code == 201
    before = _stored(ops.h, "shop")

    stale = ops.post(f"{API}/clients/shop/rotate-secret", headers={"If-Match": tag})

    assert stale.status_code == 412
    assert stale.json()["error"] == "precondition_failed"
    assert "client_secret" not in stale.json()
    assert _stored(ops.h, "shop") == before


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no SQL involved
@pytest.mark.parametrize(
    ("if_match", "status"),
    [
        pytest.param("*", 201, id="any-version"),
        pytest.param('"other", {current}', 201, id="one-of-a-list"),
        pytest.param("W/{current}", 412, id="weak-never-matches"),
        pytest.param('"not-the-version"', 412, id="another-version"),
        pytest.param("{current_bare}", 400, id="unquoted"),
        pytest.param('{current}, "x', 400, id="unterminated"),
    ],
)
def test_if_match_compares_entity_tags_strongly(ops: Operator, if_match: str, status: int) -> None:
    current = _create(ops).headers["etag"]
    header = if_match.format(current=current, current_bare=current.strip('"'))

    response = ops.post(f"{API}/clients/shop/rotate-secret", headers={"If-Match": header})

    assert response.status_code == status, response.text
    if status != 201:
        assert response.json()["error"] in {"precondition_failed", "invalid_request"}
        assert len(_stored(ops.h, "shop")["secrets"]) == 1


def test_writes_without_if_match_apply_to_the_current_version(ops: Operator) -> None:
    _create(ops)
    assert ops.post(f"{API}/clients/shop/rotate-secret").status_code == 201
    assert ops.delete(f"{API}/clients/shop").status_code == 204


def test_unknown_clients_are_404(ops: Operator) -> None:
    for response in (
        ops.get(f"{API}/clients/nobody"),
        ops.post(f"{API}/clients/nobody/rotate-secret"),
        ops.delete(f"{API}/clients/nobody"),
    ):
        assert response.status_code == 404, response.text
        assert response.json() == {
            "error": "not_found",
            "error_description": "unknown client 'nobody'",
        }


def test_the_built_in_account_client_cannot_be_removed(ops: Operator) -> None:
    response = ops.delete(f"{API}/clients/{ACCOUNT_CLIENT_ID}")

    assert response.status_code == 400
    assert "built in" in response.json()["error_description"]
    assert ops.get(f"{API}/clients/{ACCOUNT_CLIENT_ID}").status_code == 200


def test_a_client_without_a_secret_cannot_rotate_one(ops: Operator) -> None:
    _create(ops, client_id="spa", client_type="Public", scopes=[])

    response = ops.post(f"{API}/clients/spa/rotate-secret")

    assert response.status_code == 400
    assert "only Confidential clients have a secret" in response.json()["error_description"]


def test_the_defaults_are_the_clis(ops: Operator) -> None:
    """A body with only the required members registers what `idplus client add --client-id …
    --type …` would."""
    body = {"client_id": "app", "client_type": "PublicWithRefresh"}
    created = ops.post(f"{API}/clients", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["client_secret"] is None
    ops.h.add_client("cli-app", client_type="PublicWithRefresh", redirect_uris=[])

    from_api, from_cli = _stored(ops.h, "app"), _stored(ops.h, "cli-app")
    differ = {"client_id", "name", "created_at"}
    assert {k: v for k, v in from_api.items() if k not in differ} == {
        k: v for k, v in from_cli.items() if k not in differ
    }
    assert from_api["name"] == "app"
    assert from_api["scopes"] == ["openid", "profile", "email", "phone", "offline_access"]


def test_the_api_shows_what_client_show_prints(ops: Operator) -> None:
    jwks = {"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1",
                      "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                      "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}  # fmt: skip
    _create(ops, client_id="pay", auth_method="private_key_jwt", jwks=jwks, signing_alg="ES256",
            require_dpop=True, post_logout_redirect_uris=[f"{CALLBACK}/bye"])  # fmt: skip

    shown = ops.get(f"{API}/clients/pay").json()

    printed = _stored(ops.h, "pay")
    assert set(shown) == set(printed)
    for name, value in printed.items():
        if name == "created_at":
            continue
        if name == "secrets":
            assert value == []
            continue
        assert shown[name] == value, name
    assert shown["token_endpoint_auth_method"] == "private_key_jwt"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no SQL involved
@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"client_type": "Public", "secret": "a-secret-of-enough-length"},
         "only Confidential clients have a secret, not Public"),
        ({"redirect_uris": ["http://shop.example/cb"]}, "redirect URI"),
        ({"scopes": ["openid", "admin"]}, "unknown scope 'admin'"),
        ({"client_id": "-bad"}, "client_id must be"),
        ({"access_token_lifetime": 5}, "lifetime must be 60-86400 seconds"),
        ({"client_type": "confidential"}, "client_type: Input should be"),
        ({"grant_types": ["implicit"]}, "grant_types.0: Input should be"),
        ({"access_token_lifetime": "300"}, "access_token_lifetime: Input should be"),
        ({"silent_sso": "true"}, "silent_sso: Input should be"),
        ({"secrets": []}, "secrets: Extra inputs are not permitted"),
        ({"client_id": None}, "client_id: Input should be"),
    ],
)  # fmt: skip
def test_bad_registrations_are_400_with_the_reason(
    ops: Operator, fields: dict[str, Any], problem: str
) -> None:
    response = ops.post(f"{API}/clients", json={**SHOP, **fields})

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert problem in response.json()["error_description"]
    assert ops.get(f"{API}/clients/shop").status_code == 404


def test_a_client_id_is_registered_once(ops: Operator) -> None:
    _create(ops)
    again = ops.post(f"{API}/clients", json=SHOP)
    assert again.status_code == 400
    assert again.json()["error_description"] == "client 'shop' already exists"


def test_the_audit_trail_names_the_operator_and_holds_no_secret(ops: Operator) -> None:
    secret = _create(ops).json()["client_secret"]
    new_secret = ops.post(f"{API}/clients/shop/rotate-secret").json()["client_secret"]
    hashes = _stored_hashes(ops.h, "shop")
    assert ops.delete(f"{API}/clients/shop").status_code == 204

    events = ops.h.audit_events("client.added", "client.secret_rotated", "client.removed")
    changes = [e for e in events if e.client_id == "shop"]
    assert [e.event for e in changes] == ["client.added", "client.secret_rotated",
                                         "client.removed"]  # fmt: skip
    assert all(e.detail["actor"] == f"client:{OPERATOR}" for e in changes)
    trail = json.dumps([e.detail for e in events])
    for hidden in (secret, new_secret, OPERATOR_SECRET, *hashes):
        assert hidden not in trail


def test_the_cli_records_no_actor(ops: Operator) -> None:
    ops.h.add_client("cli-made")
    (event,) = [e for e in ops.h.audit_events("client.added") if e.client_id == "cli-made"]
    assert "actor" not in event.detail


def test_the_list_pages_through_every_client_once_in_client_id_order(ops: Operator) -> None:
    for client_id in ("Zeta", "alpha", "beta.1", "b-2", "B", "a~x", "9"):
        ops.h.add_client(client_id)
    store = ops.h.store()
    try:
        everyone = sorted(c.client_id for c in list_clients(store))
    finally:
        store.dispose()

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = ops.get(f"{API}/clients", params=params)
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        assert 1 <= len(items) <= 3
        seen += [c["client_id"] for c in items]
        pages += 1
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break

    assert seen == everyone
    assert pages == -(-len(everyone) // 3)
    everything = ops.get(f"{API}/clients").json()
    assert [c["client_id"] for c in everything["items"]] == everyone
    assert everything["next_cursor"] is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no SQL involved
@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"limit": "0"}, "limit: Input should be greater than or equal to 1"),
        ({"limit": "201"}, "limit: Input should be less than or equal to 200"),
        ({"limit": "ten"}, "limit: Input should be a valid integer"),
        ({"cursor": "%%%"}, "cursor: not a cursor this API gave"),
        ({"cursor": "LWJhZA"}, "cursor: not a cursor this API gave"),  # "-bad"
        ({"page": "2"}, "page: Extra inputs are not permitted"),
    ],
)
def test_bad_list_queries_are_400(ops: Operator, params: dict[str, str], problem: str) -> None:
    response = ops.get(f"{API}/clients", params=params)

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_description"].startswith(problem)


def test_a_removed_clients_tokens_are_refused_at_userinfo_and_refresh(ops: Operator) -> None:
    ops.h.add_client("spa", client_type="PublicWithRefresh")
    ops.h.add_user()
    code = code_from_login(ops.h, scope="openid offline_access")
    answer = exchange_code(ops.h, code).json()
    user_token = bearer(answer["access_token"])
    assert ops.h.http.get("/connect/userinfo", headers=user_token).status_code == 200

    assert ops.delete(f"{API}/clients/spa").status_code == 204
    _cache_expires(ops.h)

    refused = ops.h.http.get("/connect/userinfo", headers=user_token)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"
    renewed = refresh(ops.h, answer["refresh_token"])
    assert renewed.status_code == 401
    assert renewed.json()["error"] == "invalid_client"


def test_a_removed_clients_access_tokens_are_inactive_at_introspection(ops: Operator) -> None:
    ops.h.add_client("spa")
    ops.h.add_user()
    token = exchange_code(ops.h, code_from_login(ops.h)).json()["access_token"]

    def introspected() -> Any:
        return ops.h.http.post(
            "/connect/introspect", data={"token": token}, headers=basic(OPERATOR, OPERATOR_SECRET)
        ).json()

    assert introspected()["active"] is True

    assert ops.delete(f"{API}/clients/spa").status_code == 204
    _cache_expires(ops.h)

    assert introspected() == {"active": False}
