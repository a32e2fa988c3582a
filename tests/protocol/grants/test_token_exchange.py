"""RFC 8693 token exchange over HTTP, with the frozen clock: delegation (`act`), scope and
audience rules, whose tokens a client may exchange, and the exchanged token's life."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest

from idplus.errors import ValidationError
from tests.harness import Harness, basic, code_from_login, exchange_code

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
SECRET = "service-secret-0123456789"


@pytest.fixture
def world(harness: Harness) -> Harness:
    harness.add_api_products("api:tv", "api:billing")
    harness.add_client(
        "app",
        client_type="Confidential",
        secret=SECRET,
        scopes=["openid", "profile", "offline_access"],
        silent_sso=True,
    )
    for service in ("svc", "svc2"):
        harness.add_client(
            service,
            client_type="Confidential",
            secret=SECRET,
            api_access=True,
            scopes=["openid", "api:tv"],
            grant_types=[EXCHANGE],
        )
    harness.add_client(
        "picky",
        client_type="Confidential",
        secret=SECRET,
        api_access=True,
        scopes=["api:tv"],
        grant_types=[EXCHANGE],
        exchange_from=["someone"],
    )
    harness.add_client("plain", client_type="Confidential", secret=SECRET, scopes=["openid"])
    harness.add_user()  # fmt: skip
    return harness


def _user_tokens(h: Harness) -> dict[str, Any]:
    code = code_from_login(h, "app", scope="openid profile")
    body: dict[str, Any] = exchange_code(h, code, "app", SECRET).json()
    return body


def _exchange(h: Harness, subject: str, client_id: str = "svc", **form: str) -> Any:
    data = {"grant_type": EXCHANGE, "subject_token": subject, "subject_token_type": ACCESS, **form}
    return h.http.post("/connect/token", data=data, headers=basic(client_id, SECRET))


def _claims(token: str) -> dict[str, Any]:
    """A token's payload, unverified (the tests read what idplus signed)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def _error(response: Any) -> tuple[int, str]:
    return response.status_code, str(response.json()["error"])


def _introspect(h: Harness, token: str) -> dict[str, Any]:
    answer = h.http.post("/connect/introspect", data={"token": token}, headers=basic("app", SECRET))
    body: dict[str, Any] = answer.json()
    return body


def test_discovery_advertises_the_grant(harness: Harness) -> None:
    document = harness.http.get("/.well-known/openid-configuration").json()
    assert EXCHANGE in document["grant_types_supported"]


def test_the_exchanged_token_keeps_the_user_and_names_the_actor(world: Harness) -> None:
    subject = _user_tokens(world)["access_token"]
    answer = _exchange(world, subject, audience="api:tv")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["issued_token_type"], body["token_type"]) == (ACCESS, "Bearer")
    issued, original = _claims(body["access_token"]), _claims(subject)
    for name in ("sub", "sid", "acr", "amr", "auth_time"):
        assert issued[name] == original[name]
    assert issued["act"] == {"sub": "svc"}
    assert (issued["aud"], issued["client_id"]) == ("api:tv", "svc")
    assert issued["scope"] == ["openid", "profile", "api:tv"]
    assert issued["exp"] <= original["exp"]
    assert _introspect(world, body["access_token"])["act"] == {"sub": "svc"}


def test_an_exchange_never_outlives_its_subject(world: Harness) -> None:
    subject = _user_tokens(world)["access_token"]
    world.clock.advance(timedelta(seconds=3500))
    body = _exchange(world, subject, audience="api:tv").json()
    assert body["expires_in"] == 100
    assert _claims(body["access_token"])["exp"] == _claims(subject)["exp"]


def test_an_exchanged_token_exchanged_again_nests_the_actors(world: Harness) -> None:
    first = _exchange(world, _user_tokens(world)["access_token"], audience="api:tv").json()
    second = _exchange(world, first["access_token"], "svc2", scope="openid api:tv")
    assert second.status_code == 200, second.text
    assert _claims(second.json()["access_token"])["act"] == {"sub": "svc2", "act": {"sub": "svc"}}


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"scope": "openid email"}, (400, "invalid_scope")),  # the subject never held email
        ({"scope": "api:billing"}, (400, "invalid_scope")),  # svc does not subscribe to it
        ({"scope": "api:unknown"}, (400, "invalid_scope")),
        ({"audience": "api:billing"}, (400, "invalid_target")),
        ({"audience": "https://elsewhere.example"}, (400, "invalid_target")),
        ({"audience": "api:tv", "resource": "api:billing"}, (400, "invalid_target")),
        ({"subject_token_type": "urn:ietf:params:oauth:token-type:id_token"},
         (400, "invalid_request")),
        ({"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
         (400, "invalid_request")),
        ({"actor_token": "x", "actor_token_type": ACCESS}, (400, "invalid_request")),
    ],
)  # fmt: skip
def test_what_the_exchange_may_not_give(
    world: Harness, form: dict[str, str], expected: tuple[int, str]
) -> None:
    assert _error(_exchange(world, _user_tokens(world)["access_token"], **form)) == expected


def test_only_clients_with_the_grant_and_the_policy_may_exchange(world: Harness) -> None:
    subject = _user_tokens(world)["access_token"]
    assert _error(_exchange(world, subject, "plain")) == (400, "unauthorized_client")
    # picky may exchange only tokens of the client "someone".
    assert _error(_exchange(world, subject, "picky")) == (400, "invalid_request")


def test_a_bad_or_revoked_subject_is_invalid_request(world: Harness) -> None:
    assert _error(_exchange(world, "not.a.token")) == (400, "invalid_request")
    tokens = _user_tokens(world)
    world.http.post("/connect/revocation", data={"token": tokens["access_token"]},
                    headers=basic("app", SECRET))  # fmt: skip
    assert _error(_exchange(world, tokens["access_token"])) == (400, "invalid_request")


def test_an_expired_subject_is_invalid_request(world: Harness) -> None:
    subject = _user_tokens(world)["access_token"]
    world.clock.advance(timedelta(seconds=3601))
    assert _error(_exchange(world, subject)) == (400, "invalid_request")


def test_the_exchanged_token_dies_with_the_subject_and_its_session(world: Harness) -> None:
    tokens = _user_tokens(world)
    exchanged = _exchange(world, tokens["access_token"], audience="api:tv").json()["access_token"]
    again = _exchange(world, exchanged, "svc2", scope="api:tv").json()["access_token"]
    assert _introspect(world, again)["active"] is True
    # Revoking the user's token revokes what was exchanged from it, however deep.
    world.http.post("/connect/revocation", data={"token": tokens["access_token"]},
                    headers=basic("app", SECRET))  # fmt: skip
    assert _introspect(world, exchanged) == {"active": False}
    assert _introspect(world, again) == {"active": False}


def test_a_logout_kills_the_exchanged_token(world: Harness) -> None:
    tokens = _user_tokens(world)
    exchanged = _exchange(world, tokens["access_token"], audience="api:tv").json()["access_token"]
    assert _introspect(world, exchanged)["active"] is True
    world.http.get("/connect/endsession", params={"id_token_hint": tokens["id_token"]})
    assert _introspect(world, exchanged) == {"active": False}
    assert _error(_exchange(world, tokens["access_token"])) == (400, "invalid_request")


def test_only_clients_that_authenticate_may_be_actors(harness: Harness) -> None:
    """A Public client proves nothing about who exchanges: it may not register the grant."""
    with pytest.raises(ValidationError, match="only for Confidential clients"):
        harness.add_client("spa", client_type="Public", grant_types=[EXCHANGE])
