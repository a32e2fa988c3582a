"""CIBA requests in the protocol core: a failed SMS leaves nothing behind, a ping-mode decision
queues the ping (sealed) with the decision, and parallel polls take one slot."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from idplus.auth.sender import Message
from idplus.errors import OAuthError
from idplus.manage.clients import ClientRegistration, add_client
from idplus.manage.users import UserRegistration, add_user
from idplus.models import Client, SsoSession
from idplus.policies import GRANT_CIBA
from idplus.protocol.ciba.approval import decide, hold, open_approval
from idplus.protocol.ciba.request import start_backchannel_authentication
from idplus.protocol.context import AppContext
from idplus.protocol.grants import Front, TemporarilyUnavailable
from idplus.protocol.grants.ciba import CibaGrant
from idplus.protocol.issuance import JwtAccessTokens
from idplus.protocol.params import Params, parse_params
from idplus.store.sql.engine import Database
from idplus.store.sql.tables import ciba_requests, deliveries

PHONE = "+4790000001"


class FailingSender:
    def send(self, message: Message) -> None:
        raise OSError("the SMS gateway is down")


def _client(ctx: AppContext, ping: bool = False) -> Client:
    endpoint = "https://shop.example/ping" if ping else None
    add_client(ctx.store, ctx.clock, ClientRegistration(
        "shop", "Confidential", secret="shop-secret-0123456789", ciba_enabled=True,
        grant_types=[GRANT_CIBA], backchannel_client_notification_endpoint=endpoint,
    ))  # fmt: skip
    add_user(ctx.store, ctx.clock, UserRegistration(PHONE, "correct horse 42"))
    with ctx.store.reading() as uow:
        client = uow.clients.find("shop")
    assert client is not None
    return client


def _params(**extra: str) -> Params:
    return parse_params({"scope": "openid vipps", "login_hint": PHONE, **extra}.items())


def _rows(db: Database, table: sa.Table) -> list[dict[str, object]]:
    with db.reading() as conn:
        return [dict(row._mapping) for row in conn.execute(sa.select(table))]


def test_a_failed_sms_refuses_cleanly_and_leaves_no_request(
    context: AppContext, db: Database
) -> None:
    client = _client(context)
    failing = replace(context, sender=FailingSender())
    with pytest.raises(TemporarilyUnavailable) as refused:
        start_backchannel_authentication(failing, client, _params())
    assert refused.value.status_code == 503
    assert _rows(db, ciba_requests) == []


def test_failed_sms_give_their_budget_back(context: AppContext) -> None:
    client = _client(context)
    failing = replace(context, sender=FailingSender())
    for _ in range(context.settings.ciba_sms_per_client_and_phone_per_hour + 1):
        with pytest.raises(TemporarilyUnavailable):
            start_backchannel_authentication(failing, client, _params())
    assert start_backchannel_authentication(context, client, _params()).auth_req_id


def _approved_session(ctx: AppContext, user_id: str) -> SsoSession:
    now = ctx.clock.now() + timedelta(seconds=1)
    return SsoSession(
        id="sid-1", user_id=user_id, sso_group="client:shop", auth_time=now,
        acr="urn:telenor.identity.aal.1", amr=("urn:telenor.identity.amr.td_pwd",),
        idp="local", persistent=False, lifetime_seconds=600, created_at=now,
        last_seen_at=now, expires_at=now + timedelta(minutes=10),
    )  # fmt: skip


def test_a_ping_mode_decision_queues_one_sealed_ping(context: AppContext, db: Database) -> None:
    client = _client(context, ping=True)
    sent: list[Message] = []

    class Recording:
        def send(self, message: Message) -> None:
            sent.append(message)

    # With a key-encryption key, as production has: the token is stored encrypted.
    kek = SecretStr("a-key-encryption-key-for-the-test-0123456789")
    settings = context.settings.model_copy(update={"key_encryption_key": kek})
    ctx = replace(context, sender=Recording(), settings=settings)
    start_backchannel_authentication(ctx, client, _params(client_notification_token="ping-me"))
    token = sent[0].body.split("token=")[1].split("&")[0]
    pending = open_approval(ctx, token)
    session = _approved_session(ctx, pending.user.id)
    with ctx.store.transaction() as uow:
        uow.sessions.insert(session, "handle-hash")
    hold(ctx, pending, session)
    assert decide(ctx, pending, session, approve=True)
    assert not decide(ctx, pending, session, approve=True)
    (ping,) = _rows(db, deliveries)
    assert (ping["kind"], ping["target"]) == ("ciba_ping", "https://shop.example/ping")
    assert "ping-me" not in str(ping["payload"])


def test_parallel_polls_take_one_slot(context: AppContext) -> None:
    client = _client(context)
    started = start_backchannel_authentication(context, client, _params())
    front = Front(JwtAccessTokens(context.keys.current()))
    barrier, errors = threading.Barrier(8), []

    def poll() -> None:
        barrier.wait()
        try:
            CibaGrant().redeem(context, front, client, CibaGrant().parse(
                parse_params([("auth_req_id", started.auth_req_id)])))  # fmt: skip
        except OAuthError as error:
            errors.append(error.error)

    threads = [threading.Thread(target=poll) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(errors) == ["authorization_pending"] + ["slow_down"] * 7


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, message: Message) -> None:
        self.sent.append(message)


def test_the_sms_of_an_app_without_a_name_never_shows_its_client_id(context: AppContext) -> None:
    client = _client(context)  # registered without a name: it defaults to the client id
    sender = RecordingSender()
    start_backchannel_authentication(replace(context, sender=sender), client, _params())
    (sms,) = sender.sent
    assert sms.body.startswith("En app ber deg godkjenne en innlogging: ")
    assert "shop" not in sms.body.split("/ciba/approve")[0]
    assert "/ An app asks you to approve a login." in sms.body
