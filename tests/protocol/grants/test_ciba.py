"""CIBA token polling (CIBA Core 1.0 §10-11) over HTTP, with the frozen clock: pending,
slow_down, access_denied, expired_token, invalid_grant, and one-time tokens."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest

from tests.harness import Harness
from tests.protocol.ciba.helpers import PHONE, add_ciba_client, approve, poll, started


@pytest.fixture
def shop(harness: Harness) -> Harness:
    add_ciba_client(harness)
    add_ciba_client(harness, "other-shop")
    harness.add_user(PHONE)
    return harness


def _claims(token: str) -> dict[str, Any]:
    """A token's payload, unverified (the tests read what idplus signed)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def _error(response: Any) -> str:
    return str(response.json()["error"])


def test_pending_until_approved_then_tokens_once(shop: Harness) -> None:
    request = started(shop, scope="openid vipps offline_access")
    assert request["expires_in"] == 300 and request["interval"] == 5
    first = poll(shop, request["auth_req_id"])
    assert (first.status_code, _error(first)) == (400, "authorization_pending")
    page = approve(shop)
    assert "Du godkjente innloggingen." in page.text
    shop.clock.advance(timedelta(seconds=5))
    tokens = poll(shop, request["auth_req_id"])
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert {"access_token", "id_token", "refresh_token"} <= set(body)
    # The ID token tells the login the user made on the phone.
    id_token = _claims(body["id_token"])
    assert id_token["aud"] == "shop"
    assert (id_token["acr"], id_token["amr"]) == (
        "urn:telenor.identity.aal.1", ["urn:telenor.identity.amr.td_pwd"]
    )  # fmt: skip
    shop.clock.advance(timedelta(seconds=5))
    again = poll(shop, request["auth_req_id"])
    assert (again.status_code, _error(again)) == (400, "invalid_grant")


def test_polling_faster_than_the_interval_slows_down_never_first(shop: Harness) -> None:
    request = started(shop)
    assert _error(poll(shop, request["auth_req_id"])) == "authorization_pending"
    assert _error(poll(shop, request["auth_req_id"])) == "slow_down"
    # The interval grew to 10 s: 6 s later is still too early.
    shop.clock.advance(timedelta(seconds=6))
    assert _error(poll(shop, request["auth_req_id"])) == "slow_down"
    shop.clock.advance(timedelta(seconds=15))
    assert _error(poll(shop, request["auth_req_id"])) == "authorization_pending"


def test_a_denial_is_access_denied(shop: Harness) -> None:
    request = started(shop)
    assert "Du avviste innloggingen." in approve(shop, action="deny").text
    denied = poll(shop, request["auth_req_id"])
    assert (denied.status_code, _error(denied)) == (403, "access_denied")


def test_after_requested_expiry_it_is_expired_token(shop: Harness) -> None:
    request = started(shop, requested_expiry="60")
    assert request["expires_in"] == 60
    shop.clock.advance(timedelta(seconds=61))
    assert _error(poll(shop, request["auth_req_id"])) == "expired_token"


def test_another_clients_or_an_unknown_auth_req_id_is_invalid_grant(shop: Harness) -> None:
    request = started(shop)
    assert _error(poll(shop, request["auth_req_id"], "other-shop")) == "invalid_grant"
    assert _error(poll(shop, "not-an-auth-req-id")) == "invalid_grant"
    # The foreign poll spent nothing: the owner's first poll is not slowed down.
    assert _error(poll(shop, request["auth_req_id"])) == "authorization_pending"
