"""A user removes their own passkey on the account page: the sessions it logged in end, with
their refresh tokens and a back-channel logout for their apps (issue 18 items 1 and 4)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from structlog.testing import capture_logs

from idplus.auth.sender import Message
from idplus.models import User
from idplus.protocol.context import AppContext
from idplus.protocol.passkeys.removal import passkeys_of, remove_passkey
from tests.outbound.receiver import outbox_rows
from tests.protocol.passkeys.steps import add_user, fresh_session, register
from tests.protocol.test_self_service import _session, _tv
from tests.webauthn_authenticator import SoftwareAuthenticator


def test_removing_a_passkey_ends_the_sessions_it_logged_in_and_tells_their_apps(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    _tv(ctx, backchannel_logout_uri="https://tv.example/bcl")
    passkey = register(ctx, user, authenticator)
    kept = register(ctx, user, SoftwareAuthenticator(origin=authenticator.origin))
    for session_id, used in [("by-it", passkey.id), ("by-the-other", kept.id), ("by-sms", None)]:
        _session(ctx, session_id, user.id)
        with ctx.store.transaction() as uow:
            uow.sessions.set_passkey(session_id, used)

    removed = remove_passkey(ctx, user.id, passkey.id)

    assert removed is not None
    assert [e.session.id for e in removed.ended] == ["by-it"]
    assert removed.ended[0].notified == ("tv",)
    assert [p.id for p in passkeys_of(ctx, user.id)] == [kept.id]
    with ctx.store.reading() as uow:
        live = sorted(s.id for s in uow.sessions.active_of_user(user.id, ctx.clock.now()))
        token = uow.refresh_tokens.find("hash-by-it")
        event = uow.audit.list_events(events=["user.passkey_removed"])[0]
    assert "by-it" not in live
    assert {"by-the-other", "by-sms"} <= set(live)
    assert token is not None and token.revoked_at is not None
    assert [row["kind"] for row in outbox_rows(ctx.settings.database_url)] == ["backchannel_logout"]
    assert event.detail == {
        "passkey_id": passkey.id,
        "name": "My phone",
        "sessions_ended": 1,
        "by": "user",
    }


def test_a_user_cannot_remove_someone_elses_passkey(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    passkey = register(ctx, user, authenticator)
    other = add_user(ctx, "+4790000002")
    fresh_session(ctx, other)

    assert remove_passkey(ctx, other.id, passkey.id) is None
    assert remove_passkey(ctx, user.id, "no-such-passkey") is None
    assert [p.id for p in passkeys_of(ctx, user.id)] == [passkey.id]


def test_the_owner_is_told_of_a_removed_passkey(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    passkey = register(ctx, user, authenticator, name="Work laptop")
    outbox = Path(ctx.settings.outbox)
    before = len(outbox.read_text().splitlines())

    assert remove_passkey(ctx, user.id, passkey.id, locale="nb") is not None

    (sent,) = [json.loads(line) for line in outbox.read_text().splitlines()[before:]]
    assert (sent["to"], sent["channel"]) == (user.phone_number, "sms")
    assert "(«Work laptop») ble fjernet" in sent["body"]


def test_a_notice_that_cannot_go_out_does_not_keep_a_removed_passkey(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    passkey = register(ctx, user, authenticator)
    down = replace(ctx, sender=_Down())

    with capture_logs() as logs:
        assert remove_passkey(down, user.id, passkey.id) is not None

    assert passkeys_of(ctx, user.id) == []
    (line,) = [e for e in logs if e["event"] == "passkey_notice_not_sent"]
    assert (line["channel"], line["purpose"]) == ("sms", "passkey_removed")


class _Down:
    def send(self, message: Message) -> None:
        raise OSError("gateway down")
