"""Ending sessions puts their logout tokens in the outbox in the same unit of work (a
transactional outbox): the session ends and its RPs will be told, or neither happens."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from idplus.manage.clients import ClientRegistration, add_client
from idplus.manage.users import UserRegistration, add_user
from idplus.models import Authentication, Delivery, SsoSession
from idplus.protocol.context import AppContext
from idplus.protocol.oidc.end_session import end_sessions, end_sessions_within
from idplus.protocol.sso import SessionLifetime, start_or_renew_session

# The kinds this version sends.
KINDS = ("backchannel_logout",)


BCL = "https://rp.example/bcl"


def _session_with_clients(ctx: AppContext) -> SsoSession:
    """A session that served `app` (no back channel), `tv` and `shop` (both with one)."""
    for client_id, uri in (("app", None), ("tv", BCL), ("shop", f"{BCL}?shop")):
        registration = ClientRegistration(client_id, "Public", redirect_uris=["https://rp.example/cb"],
                                          backchannel_logout_uri=uri)  # fmt: skip
        add_client(ctx.store, ctx.clock, registration)
    user = add_user(ctx.store, ctx.clock, UserRegistration("+4790000001", "password1"))
    now = ctx.clock.now()
    with ctx.store.transaction() as uow:
        session = start_or_renew_session(
            uow,
            handle_key=ctx.secrets.handle_key,
            group="one_telenor",
            authentication=Authentication(user.id, now, ("pwd",), "urn:x", "local"),
            lifetime=SessionLifetime(True, timedelta(days=1)),
            existing=None,
            now=now,
            random=ctx.random,
        ).session
        for client_id in ("app", "tv", "shop"):
            uow.sessions.add_client(session.id, client_id, now)
    return session


def _queued(ctx: AppContext) -> list[Delivery]:
    """What the outbox worker would send now (claiming it, as the worker does)."""
    now = ctx.clock.now()
    with ctx.store.transaction() as uow:
        return uow.deliveries.claim_due(
            now, lease_until=now + timedelta(minutes=1), limit=100, kinds=KINDS
        )


def test_ending_a_session_queues_a_logout_token_for_each_other_backchannel_client(
    context: AppContext,
) -> None:
    session = _session_with_clients(context)

    (ended,) = end_sessions(context, [session.id], initiator="shop")

    assert ended.notified == ("tv",)
    (delivery,) = _queued(context)
    assert (delivery.kind, delivery.target, delivery.subject) == ("backchannel_logout", BCL, "tv")
    token = context.keys.current().verify(delivery.payload["logout_token"])
    assert token.header["typ"] == "logout+jwt"
    assert (token.claims["aud"], token.claims["sid"]) == ("tv", session.id)
    # The token outlives the outbox's last retry.
    assert token.claims["exp"] - token.claims["iat"] > 120


def test_a_session_that_already_ended_queues_nothing(context: AppContext) -> None:
    session = _session_with_clients(context)
    end_sessions(context, [session.id])
    assert len(_queued(context)) == 2

    assert end_sessions(context, [session.id]) == []
    assert _queued(context) == []


def test_when_the_unit_of_work_fails_neither_the_logout_nor_its_tokens_happen(
    context: AppContext,
) -> None:
    session = _session_with_clients(context)

    ring = context.keys.current()
    with pytest.raises(RuntimeError), context.store.transaction() as uow:
        end_sessions_within(context, uow, ring, [session.id], context.clock.now())
        raise RuntimeError("a later step of the same unit of work failed")

    with context.store.reading() as uow:
        still = uow.sessions.find(session.id)
    assert still is not None and still.is_active(context.clock.now())
    assert _queued(context) == []


def test_two_logouts_of_one_session_queue_its_logout_tokens_once(context: AppContext) -> None:
    """On PostgreSQL the second logout read the session as live, waited for the first one's
    row lock, ended nothing, and queued every token again."""
    session = _session_with_clients(context)
    start = threading.Barrier(2)
    ended: list[int] = []

    def logout() -> None:
        start.wait()
        ended.append(len(end_sessions(context, [session.id])))

    threads = [threading.Thread(target=logout) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(ended) == [0, 1]
    assert sorted(d.subject or "" for d in _queued(context)) == ["shop", "tv"]
