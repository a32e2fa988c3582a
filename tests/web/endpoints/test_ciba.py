"""POST /connect/ciba and /connect/ciba/prepare (CIBA Core 1.0 §7, §13): what a back end may
ask, and the RFC error for everything else — never a 5xx, nothing stored."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.harness import Harness, basic
from tests.protocol.ciba.helpers import (
    CIBA_GRANT,
    PHONE,
    SECRET,
    add_ciba_client,
    approve,
    poll,
    start,
    started,
)


@pytest.fixture
def shop(harness: Harness) -> Harness:
    add_ciba_client(harness)
    harness.add_user(PHONE)
    return harness


def _error(response: Any) -> tuple[int, str]:
    return response.status_code, str(response.json()["error"])


def test_discovery_advertises_ciba(harness: Harness) -> None:
    document = harness.http.get("/.well-known/openid-configuration").json()
    assert document["backchannel_authentication_endpoint"] == (
        f"{harness.settings.issuer}/connect/ciba"
    )
    assert document["backchannel_token_delivery_modes_supported"] == ["poll", "ping"]
    assert document["backchannel_user_code_parameter_supported"] is False
    assert CIBA_GRANT in document["grant_types_supported"]


def test_one_sms_with_an_approval_link_and_the_clients_registered_name(shop: Harness) -> None:
    body = started(shop, binding_message="Ordre 1234")
    assert set(body) == {"auth_req_id", "expires_in", "interval"}
    (sms,) = shop.outbox()
    assert (sms["to"], sms["channel"]) == (PHONE, "sms")
    assert "Telenor Shop" in sms["body"] and "Ordre 1234" in sms["body"]
    assert f"{shop.settings.issuer}/ciba/approve?token=" in sms["body"]


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"login_hint": None}, "invalid_request"),
        ({"login_hint_token": "x"}, "invalid_request"),
        ({"scope": "openid"}, "invalid_scope"),
        ({"scope": "vipps"}, "invalid_scope"),
        ({"scope": "openid vipps bankid"}, "invalid_scope"),
        ({"scope": "openid vipps api:tv"}, "invalid_scope"),
        ({"login_hint": "+4799999999"}, "unknown_user_id"),
        ({"login_hint": "not a phone"}, "unknown_user_id"),
        ({"binding_message": "x" * 41}, "invalid_binding_message"),
        ({"binding_message": "<script>"}, "invalid_binding_message"),
        ({"binding_message": "line\nbreak"}, "invalid_binding_message"),
        ({"requested_expiry": "0"}, "invalid_request"),
        ({"requested_expiry": "301"}, "invalid_request"),
        ({"requested_expiry": "1e2"}, "invalid_request"),
        ({"requested_expiry": "\u00b2"}, "invalid_request"),  # "²".isdigit() is True
        ({"binding_message": "https://evil.example/x"}, "invalid_binding_message"),
        ({"binding_message": "Ordre\u3164 42"}, "invalid_binding_message"),
        ({"user_code": "1234"}, "invalid_request"),
    ],
)
def test_bad_requests_get_rfc_errors_and_send_nothing(
    shop: Harness, form: dict[str, str | None], error: str
) -> None:
    data = {"scope": "openid vipps", "login_hint": "90000001", **form}
    response = shop.http.post(
        "/connect/ciba",
        data={k: v for k, v in data.items() if v is not None},
        headers=basic("shop", SECRET),
    )
    assert _error(response) == (400, error)
    assert shop.outbox() == []


def test_a_phone_number_two_users_share_is_no_hint(shop: Harness) -> None:
    shop.add_user("kari@example.no", phone_number="+4790000002")
    shop.add_user("ola@example.no", phone_number="+4790000002")
    assert _error(start(shop, login_hint="90000002")) == (400, "unknown_user_id")
    shop.add_user("per@example.no", phone_number="+4790000003")
    assert started(shop, login_hint="+47 900 00 003")


def test_json_bodies_and_repeated_parameters_are_refused(shop: Harness) -> None:
    as_json = shop.http.post(
        "/connect/ciba",
        json={"scope": "openid vipps", "login_hint": PHONE},
        headers=basic("shop", SECRET),
    )
    assert _error(as_json) == (400, "invalid_request")
    repeated = shop.http.post(
        "/connect/ciba",
        content="scope=openid+vipps&login_hint=90000001&login_hint=90000002",
        headers={**basic("shop", SECRET), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert _error(repeated) == (400, "invalid_request")


def test_clients_must_authenticate_and_be_ciba_clients(shop: Harness) -> None:
    wrong = shop.http.post(
        "/connect/ciba",
        data={"scope": "openid vipps", "login_hint": PHONE},
        headers=basic("shop", "wrong-secret-0123456789"),
    )
    assert _error(wrong) == (401, "invalid_client")
    shop.add_client("web", client_type="Confidential", secret=SECRET, scopes=["openid", "vipps"])
    assert _error(start(shop, "web")) == (400, "unauthorized_client")


def test_ping_mode_needs_a_client_notification_token(shop: Harness) -> None:
    endpoint = "https://pinger.example/cb"
    add_ciba_client(shop, "pinger", backchannel_client_notification_endpoint=endpoint)
    assert _error(start(shop, "pinger")) == (400, "invalid_request")
    assert _error(start(shop, "pinger", client_notification_token="x" * 1025)) == (
        400, "invalid_request"
    )  # fmt: skip
    assert started(shop, client_id="pinger", client_notification_token="n" * 40)


def test_approval_sms_have_a_budget_per_client_and_per_phone_number(shop: Harness) -> None:
    per_client = shop.settings.ciba_sms_per_client_and_phone_per_hour
    per_phone = shop.settings.ciba_sms_per_phone_per_hour
    shops = [f"shop-{n}" for n in range(per_phone // per_client)]
    for client_id in shops:
        add_ciba_client(shop, client_id)
    for _ in range(per_client):
        assert start(shop).status_code == 200
    # One client has used its part of the number's budget; the others still may ask.
    assert _error(start(shop)) == (403, "access_denied")
    for client_id in shops:
        for _ in range(per_client):
            response = start(shop, client_id)
            if response.status_code != 200:
                break
    # Together they have used the number's whole budget: now nobody may.
    assert _error(start(shop, shops[-1])) == (403, "access_denied")
    assert len(shop.outbox()) == per_phone
    shop.clock.advance(timedelta(hours=1, seconds=1))
    assert start(shop).status_code == 200


def _prepare(h: Harness, kurtid: str, client_id: str = "shop") -> Any:
    return h.http.post(
        "/connect/ciba/prepare", data={"kurtid": kurtid}, headers=basic(client_id, SECRET)
    )


def _kurtid(h: Harness) -> str:
    store = h.store()
    try:
        with store.reading() as uow:
            user = uow.users.find_by_username(PHONE)
    finally:
        store.dispose()
    assert user is not None
    return user.kurtid


def test_bankid_style_prepare_then_request_with_two_factors(shop: Harness) -> None:
    prepared = _prepare(shop, _kurtid(shop))
    assert prepared.status_code == 200, prepared.text
    hint = prepared.json()
    request = started(shop, scope="openid bankid", login_hint=None,  # type: ignore[arg-type]
                      login_hint_token=hint["login_hint_token"])  # fmt: skip
    assert hint["binding_message"] in shop.outbox()[-1]["body"]
    page = approve(shop, otp=True)
    assert "Du godkjente innloggingen." in page.text
    shop.clock.advance(timedelta(seconds=5))
    tokens = poll(shop, request["auth_req_id"])
    assert tokens.status_code == 200, tokens.text


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ("other-client", "invalid_request"),
        ("expired", "expired_login_hint_token"),
        ("other-binding", "invalid_binding_message"),
        ("tampered", "invalid_request"),
    ],
)
def test_a_prepared_hint_is_only_for_its_client_its_message_and_a_short_while(
    shop: Harness, change: str, error: str
) -> None:
    add_ciba_client(shop, "other-shop")
    token = _prepare(shop, _kurtid(shop)).json()["login_hint_token"]
    form: dict[str, str] = {"scope": "openid bankid", "login_hint_token": token}
    client_id = "shop"
    if change == "other-client":
        client_id = "other-shop"
    elif change == "expired":
        shop.clock.advance(timedelta(minutes=6))
    elif change == "other-binding":
        form["binding_message"] = "ZZZZ-0000"
    else:
        form["login_hint_token"] = token[:-4] + "AAAA"
    response = shop.http.post("/connect/ciba", data=form, headers=basic(client_id, SECRET))
    assert _error(response) == (400, error)


def test_prepare_refuses_unknown_kurtids_and_other_clients(shop: Harness) -> None:
    assert _error(_prepare(shop, "999999999999")) == (400, "unknown_user_id")
    assert _error(_prepare(shop, "")) == (400, "invalid_request")
    shop.add_client("web", client_type="Confidential", secret=SECRET)
    assert _error(_prepare(shop, _kurtid(shop), "web")) == (400, "unauthorized_client")
