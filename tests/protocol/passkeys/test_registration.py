"""Adding a passkey (issue 18 item 1): options for a fresh two-factor session only, the
library's verification with our rp id and origin, attestation against the operator's roots,
and the audit event and notice that come with it."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from idplus.auth.sender import Message, Sender
from idplus.models import User
from idplus.protocol.context import AppContext
from idplus.protocol.passkeys.errors import PasskeyProblem
from idplus.protocol.passkeys.notices import NoticeNotSent
from idplus.protocol.passkeys.registration import (
    FRESH_LOGIN_MAX_AGE,
    register_passkey,
    registration_options,
)
from tests.protocol.passkeys.steps import (
    ISSUER,
    add_user,
    advance,
    fresh_session,
    on_issuer,
    register,
)
from tests.webauthn_authenticator import (
    AttestationCa,
    SoftwareAuthenticator,
    b64url,
    from_b64url,
)


def _reason(problem: pytest.ExceptionInfo[PasskeyProblem]) -> str:
    return problem.value.reason.value


def test_options_ask_for_a_discoverable_user_verified_passkey_of_an_opaque_user(
    ctx: AppContext, user: User
) -> None:
    options = registration_options(ctx, user, fresh_session(ctx, user))

    assert options["rp"] == {"id": "localhost", "name": "Telenor ID"}
    assert from_b64url(options["user"]["id"]) == user.id.encode()
    assert options["user"]["name"] == user.username
    assert options["authenticatorSelection"] == {
        "residentKey": "required",
        "requireResidentKey": True,
        "userVerification": "required",
    }
    assert options["attestation"] == "none"
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-7, -8, -257]
    assert len(from_b64url(options["challenge"])) == 32
    assert options["excludeCredentials"] == []


def test_a_registered_passkey_is_stored_audited_and_told_to_its_owner(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    passkey = register(ctx, user, authenticator, name="  Kari's\u202e phone\n")

    with ctx.store.reading() as uow:
        assert uow.passkeys.list_for_user(user.id) == [passkey]
        event = uow.audit.list_events(events=["user.passkey_added"])[0]
    assert passkey.name == "Kari's phone"
    assert passkey.credential_id == b64url(next(iter(authenticator.credentials)))
    assert (passkey.sign_count, passkey.backup_eligible, passkey.hardware_attested) == (
        0,
        False,
        False,
    )
    assert passkey.transports == ("internal", "hybrid")
    assert event.user_id == user.id
    assert event.detail == {
        "passkey_id": passkey.id,
        "name": "Kari's phone",
        "aaguid": "00000000-0000-0000-0000-000000000000",
        "backup_eligible": False,
        "hardware_attested": False,
    }
    sms = [json.loads(line) for line in Path(ctx.settings.outbox).read_text().splitlines()]
    assert [(m["to"], m["channel"]) for m in sms] == [(user.phone_number, "sms")]
    assert "Kari's phone" in sms[0]["body"]
    assert "passkey" in sms[0]["body"]


def test_the_next_options_exclude_the_users_passkeys(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    passkey = register(ctx, user, authenticator)

    options = registration_options(ctx, user, fresh_session(ctx, user))

    assert [c["id"] for c in options["excludeCredentials"]] == [passkey.credential_id]
    assert options["excludeCredentials"][0]["transports"] == ["internal", "hybrid"]


@pytest.mark.parametrize(
    ("level", "age"),
    [(1, 0), (2, int(FRESH_LOGIN_MAX_AGE.total_seconds()) + 1)],
    ids=["one factor", "too long ago"],
)
def test_only_a_recent_two_factor_login_may_add_a_passkey(
    ctx: AppContext, user: User, level: int, age: int
) -> None:
    session_id = fresh_session(ctx, user, level=level, age=age)

    with pytest.raises(PasskeyProblem) as refused:
        registration_options(ctx, user, session_id)

    assert _reason(refused) == "fresh_login_required"


def test_another_users_session_cannot_ask_for_options(ctx: AppContext, user: User) -> None:
    other = add_user(ctx, "+4790000002")

    with pytest.raises(PasskeyProblem) as refused:
        registration_options(ctx, user, fresh_session(ctx, other))

    assert _reason(refused) == "fresh_login_required"


def test_the_same_credential_cannot_be_registered_twice(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    session_id = fresh_session(ctx, user)
    credential = authenticator.create(registration_options(ctx, user, session_id))
    register_passkey(ctx, user, session_id, credential)
    options = registration_options(ctx, user, session_id)
    # The same credential id and key, answering the new challenge.
    again = authenticator.create(options)
    again["id"] = again["rawId"] = credential["id"]
    again["response"]["attestationObject"] = credential["response"]["attestationObject"]

    with pytest.raises(PasskeyProblem) as refused:
        register_passkey(ctx, user, session_id, again)

    assert _reason(refused) == "already_registered"


@pytest.mark.parametrize(
    ("create", "reason"),
    [
        ({"origin": "https://telenor-id.example"}, "origin_or_rp_mismatch"),
        ({"rp_id": "example.com"}, "origin_or_rp_mismatch"),
        ({"user_verified": False}, "verification_failed"),
        ({"challenge": "AAAA"}, "challenge_unknown"),
        ({"client_data_json": b"{not json"}, "malformed"),
    ],
    ids=["origin", "rp id", "no user verification", "unknown challenge", "client data"],
)
def test_a_bad_registration_is_refused_and_adds_nothing(
    ctx: AppContext,
    user: User,
    authenticator: SoftwareAuthenticator,
    create: dict[str, Any],
    reason: str,
) -> None:
    with pytest.raises(PasskeyProblem) as refused:
        register(ctx, user, authenticator, **create)

    assert _reason(refused) == reason
    with ctx.store.reading() as uow:
        assert uow.passkeys.list_for_user(user.id) == []


def test_a_registration_challenge_answers_once(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    session_id = fresh_session(ctx, user)
    options = registration_options(ctx, user, session_id)
    wrong = authenticator.create(options, user_verified=False)
    with pytest.raises(PasskeyProblem):
        register_passkey(ctx, user, session_id, wrong)

    with pytest.raises(PasskeyProblem) as refused:
        register_passkey(ctx, user, session_id, authenticator.create(options))

    assert _reason(refused) == "challenge_unknown"


def test_a_registration_challenge_expires(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    session_id = fresh_session(ctx, user)
    options = registration_options(ctx, user, session_id)
    advance(ctx, timedelta(minutes=5, seconds=1))

    with pytest.raises(PasskeyProblem) as refused:
        register_passkey(ctx, user, session_id, authenticator.create(options))

    assert _reason(refused) == "challenge_unknown"


def test_a_challenge_of_another_session_does_not_register(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    options = registration_options(ctx, user, fresh_session(ctx, user))

    with pytest.raises(PasskeyProblem) as refused:
        register_passkey(ctx, user, fresh_session(ctx, user), authenticator.create(options))

    assert _reason(refused) == "challenge_unknown"


def _with_roots(ctx: AppContext, tmp_path: Path, ca: AttestationCa) -> AppContext:
    roots = tmp_path / "roots.pem"
    roots.write_bytes(ca.root_pem)
    return on_issuer(ctx, webauthn_attestation_roots=roots)


def test_with_roots_options_ask_for_direct_attestation(
    ctx: AppContext, user: User, tmp_path: Path
) -> None:
    rooted = _with_roots(ctx, tmp_path, AttestationCa())

    options = registration_options(rooted, user, fresh_session(rooted, user))

    assert options["attestation"] == "direct"


@pytest.mark.parametrize(
    ("attestation", "signed_by_configured_root", "backup_eligible", "hardware"),
    [
        ("full", True, False, True),
        ("full", True, True, False),
        ("full", False, False, False),
        ("self", True, False, False),
        ("none", True, False, False),
    ],
    ids=["attested device-bound", "attested but syncable", "unknown vendor", "self", "none"],
)
def test_only_a_device_bound_passkey_attested_by_a_configured_root_is_hardware(
    ctx: AppContext,
    user: User,
    tmp_path: Path,
    attestation: str,
    signed_by_configured_root: bool,
    backup_eligible: bool,
    hardware: bool,
) -> None:
    configured, vendor = AttestationCa(), AttestationCa("Another Vendor")
    rooted = _with_roots(ctx, tmp_path, configured)
    authenticator = SoftwareAuthenticator(
        origin=ISSUER, backup_eligible=backup_eligible, aaguid=bytes(range(16))
    )

    passkey = register(
        rooted,
        user,
        authenticator,
        attestation=attestation,
        ca=configured if signed_by_configured_root else vendor,
    )

    assert passkey.hardware_attested is hardware
    assert passkey.backup_eligible is backup_eligible


def test_without_roots_a_full_attestation_proves_nothing(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    passkey = register(ctx, user, authenticator, attestation="full", ca=AttestationCa())

    assert passkey.hardware_attested is False


# ---- review fixes (issue 18, second review) ---------------------------------------------


def test_freshness_is_checked_again_when_the_passkey_is_verified(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    session_id = fresh_session(ctx, user)
    advance(ctx, FRESH_LOGIN_MAX_AGE - timedelta(seconds=1))
    options = registration_options(ctx, user, session_id)  # just in time
    advance(ctx, timedelta(seconds=2))

    with pytest.raises(PasskeyProblem) as refused:
        register_passkey(ctx, user, session_id, authenticator.create(options), "late")

    assert _reason(refused) == "fresh_login_required"
    with ctx.store.reading() as uow:
        assert uow.passkeys.list_for_user(user.id) == []


@pytest.mark.parametrize("length", [1023, 1024])
def test_a_credential_id_longer_than_webauthn_allows_is_malformed(
    ctx: AppContext,
    user: User,
    authenticator: SoftwareAuthenticator,
    monkeypatch: pytest.MonkeyPatch,
    length: int,
) -> None:
    session_id = fresh_session(ctx, user)
    options = registration_options(ctx, user, session_id)
    # The software authenticator draws its credential ids from secrets.token_bytes.
    monkeypatch.setattr(secrets, "token_bytes", lambda _n: b"i" * length)
    credential = authenticator.create(options)
    monkeypatch.undo()

    if length == 1023:
        added = register_passkey(ctx, user, session_id, credential)
        assert len(from_b64url(added.credential_id)) == 1023
        return
    with pytest.raises(PasskeyProblem) as refused:
        register_passkey(ctx, user, session_id, credential)
    assert _reason(refused) == "malformed"


def test_an_account_nobody_could_tell_of_a_passkey_cannot_add_one(
    ctx: AppContext, authenticator: SoftwareAuthenticator
) -> None:
    named = add_user(ctx, "kari@example.com")
    with ctx.store.transaction() as uow:  # an address the user has since taken away
        uow.users.update_profile(named.id, {"email": None}, ctx.clock.now())
    unreachable = replace(named, email=None)
    assert unreachable.phone_number is None

    with pytest.raises(PasskeyProblem) as refused:
        registration_options(ctx, unreachable, fresh_session(ctx, unreachable))

    assert _reason(refused) == "no_contact"


@dataclass
class _Sender:
    """Sends through `sender`, except on the channels in `failing` (a gateway that is down)."""

    sender: Sender
    failing: frozenset[str]

    def send(self, message: Message) -> None:
        if message.channel in self.failing:
            raise OSError(f"{message.channel} gateway down")
        self.sender.send(message)


def _with_email(ctx: AppContext, user: User) -> User:
    with ctx.store.transaction() as uow:
        uow.users.update_profile(user.id, {"email": "kari@example.com"}, ctx.clock.now())
    return replace(user, email="kari@example.com")


def test_a_passkey_whose_owner_cannot_be_told_is_not_added_and_can_be_sent_again(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    session_id = fresh_session(ctx, user)
    credential = authenticator.create(registration_options(ctx, user, session_id))
    down = replace(ctx, sender=_Sender(ctx.sender, frozenset({"sms"})))

    with pytest.raises(NoticeNotSent):
        register_passkey(down, user, session_id, credential)

    with ctx.store.reading() as uow:
        assert uow.passkeys.list_for_user(user.id) == []
        assert uow.audit.list_events(events=["user.passkey_added"]) == []
    # Nothing was used up: the same answer adds the passkey once the SMS can go out.
    assert register_passkey(ctx, user, session_id, credential).user_id == user.id


def test_an_e_mail_that_fails_after_the_sms_went_out_is_only_logged(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    user = _with_email(ctx, user)
    mail_down = replace(ctx, sender=_Sender(ctx.sender, frozenset({"email"})))

    with capture_logs() as logs:
        passkey = register(mail_down, user, authenticator)

    with ctx.store.reading() as uow:
        assert [p.id for p in uow.passkeys.list_for_user(user.id)] == [passkey.id]
    sent = [json.loads(line) for line in Path(ctx.settings.outbox).read_text().splitlines()]
    assert [m["channel"] for m in sent] == ["sms"]
    (line,) = [e for e in logs if e["event"] == "passkey_notice_not_sent"]
    assert (line["channel"], line["purpose"]) == ("email", "passkey_added")
