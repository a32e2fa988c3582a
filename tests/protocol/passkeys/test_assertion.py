"""Logging in with a passkey (issue 18 items 2, 3, 5): options bound to the login in progress,
the library's verification, single-use challenges, sign counts, and every bad input refused
with its reason and without a login."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from idplus.models import User
from idplus.protocol.context import AppContext
from idplus.protocol.passkeys.assertion import login_options, verify_passkey_login
from idplus.protocol.passkeys.errors import PasskeyProblem
from tests.protocol.login.driver import in_parallel
from tests.protocol.passkeys.steps import (
    ISSUER,
    add_user,
    advance,
    log_in,
    on_issuer,
    register,
    start_login,
)
from tests.webauthn_authenticator import AttestationCa, SoftwareAuthenticator, b64url


def _refused(ctx: AppContext, authenticator: SoftwareAuthenticator, **get: Any) -> str:
    with pytest.raises(PasskeyProblem) as refused:
        log_in(ctx, authenticator, **get)
    return refused.value.reason.value


def _stored_count(ctx: AppContext, passkey_id: str) -> int:
    with ctx.store.reading() as uow:
        passkey = uow.passkeys.find(passkey_id)
    assert passkey is not None
    return passkey.sign_count


def test_a_passkey_logs_its_user_in_with_two_factors(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    passkey = register(ctx, user, authenticator)
    advance(ctx, timedelta(minutes=1))

    verified = log_in(ctx, authenticator)

    assert verified.user == user
    assert verified.passkey.id == passkey.id
    assert verified.amr == ("urn:telenor.identity.amr.passkey",)
    assert verified.acr == "urn:telenor.identity.aal.2"
    with ctx.store.reading() as uow:
        stored = uow.passkeys.find(passkey.id)
    assert stored is not None
    assert (stored.sign_count, stored.last_used_at) == (1, ctx.clock.now())


def test_options_of_a_username_less_login_list_no_credentials(ctx: AppContext) -> None:
    login = start_login(ctx)

    options = login_options(ctx, interaction_id_hash=login, user=None)

    assert options["allowCredentials"] == []
    assert options["userVerification"] == "required"
    assert options["rpId"] == "localhost"


def test_a_step_up_lists_the_users_passkeys_and_accepts_only_theirs(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    mine = register(ctx, user, authenticator)
    other = add_user(ctx, "+4790000002")
    register(ctx, other, theirs := SoftwareAuthenticator(origin=ISSUER))
    login = start_login(ctx)

    options = login_options(ctx, interaction_id_hash=login, user=user)

    assert [c["id"] for c in options["allowCredentials"]] == [mine.credential_id]
    assert log_in(ctx, authenticator, user=user).user == user
    assert _refused(ctx, theirs, user=user) == "user_mismatch"


def test_a_hardware_attested_device_bound_passkey_gives_level_3(
    ctx: AppContext, user: User, tmp_path: Path
) -> None:
    ca = AttestationCa()
    (roots := tmp_path / "roots.pem").write_bytes(ca.root_pem)
    rooted = on_issuer(ctx, webauthn_attestation_roots=roots)
    key = SoftwareAuthenticator(origin=ISSUER)
    register(rooted, user, key, attestation="full", ca=ca)

    assert log_in(rooted, key).acr == "urn:telenor.identity.aal.3"


def test_a_replayed_assertion_is_refused(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    register(ctx, user, authenticator)
    login = start_login(ctx)
    assertion = authenticator.get(login_options(ctx, interaction_id_hash=login, user=None))
    verify_passkey_login(ctx, interaction_id_hash=login, expected_user=None, credential=assertion)

    with pytest.raises(PasskeyProblem) as refused:
        verify_passkey_login(
            ctx, interaction_id_hash=login, expected_user=None, credential=assertion
        )

    assert refused.value.reason.value == "challenge_unknown"


def test_a_challenge_of_another_login_is_refused(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    register(ctx, user, authenticator)
    first, second = start_login(ctx), start_login(ctx)
    assertion = authenticator.get(login_options(ctx, interaction_id_hash=first, user=None))

    with pytest.raises(PasskeyProblem) as refused:
        verify_passkey_login(
            ctx, interaction_id_hash=second, expected_user=None, credential=assertion
        )

    assert refused.value.reason.value == "challenge_unknown"


def test_new_options_replace_the_logins_earlier_challenge(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    register(ctx, user, authenticator)
    login = start_login(ctx)
    earlier = login_options(ctx, interaction_id_hash=login, user=None)
    login_options(ctx, interaction_id_hash=login, user=None)

    with pytest.raises(PasskeyProblem) as refused:
        verify_passkey_login(
            ctx,
            interaction_id_hash=login,
            expected_user=None,
            credential=authenticator.get(earlier),
        )

    assert refused.value.reason.value == "challenge_unknown"


def test_the_challenge_expires_with_the_login(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    register(ctx, user, authenticator)
    login = start_login(ctx)
    options = login_options(ctx, interaction_id_hash=login, user=None)
    advance(ctx, timedelta(seconds=ctx.settings.interaction_lifetime))

    with pytest.raises(PasskeyProblem) as refused:
        verify_passkey_login(
            ctx,
            interaction_id_hash=login,
            expected_user=None,
            credential=authenticator.get(options),
        )

    assert refused.value.reason.value == "challenge_unknown"
    with pytest.raises(PasskeyProblem) as gone:
        login_options(ctx, interaction_id_hash=login, user=None)
    assert gone.value.reason.value == "challenge_unknown"


def test_a_wrong_answer_uses_the_challenge_up(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    register(ctx, user, authenticator)
    login = start_login(ctx)
    options = login_options(ctx, interaction_id_hash=login, user=None)
    with pytest.raises(PasskeyProblem):
        verify_passkey_login(
            ctx,
            interaction_id_hash=login,
            expected_user=None,
            credential=authenticator.get(options, user_verified=False),
        )

    with pytest.raises(PasskeyProblem) as refused:
        verify_passkey_login(
            ctx,
            interaction_id_hash=login,
            expected_user=None,
            credential=authenticator.get(options),
        )

    assert refused.value.reason.value == "challenge_unknown"


@pytest.mark.parametrize(
    ("get", "reason"),
    [
        ({"origin": "https://telenor-id.example"}, "origin_or_rp_mismatch"),
        ({"origin": "http://localhost:8001"}, "origin_or_rp_mismatch"),
        ({"rp_id": "example.com"}, "origin_or_rp_mismatch"),
        ({"user_verified": False}, "verification_failed"),
        ({"user_present": False}, "verification_failed"),
        ({"challenge": b64url(b"x" * 32)}, "challenge_unknown"),
        ({"user_handle": b"someone-else"}, "user_mismatch"),
        ({"client_data_json": b'{"type": "webauthn.get"'}, "malformed"),
        (
            {"client_data_json": b'{"type":"webauthn.create","challenge":"","origin":""}'},
            "malformed",
        ),
        ({"client_data_json": b"\xff\xfe"}, "malformed"),
    ],
    ids=[
        "look-alike origin",
        "other port",
        "rp id",
        "no user verification",
        "no user presence",
        "unknown challenge",
        "user handle",
        "truncated client data",
        "client data of a registration",
        "client data not UTF-8",
    ],
)
def test_a_bad_assertion_is_refused_with_its_reason(
    ctx: AppContext,
    user: User,
    authenticator: SoftwareAuthenticator,
    get: dict[str, Any],
    reason: str,
) -> None:
    passkey = register(ctx, user, authenticator)

    assert _refused(ctx, authenticator, **get) == reason
    assert _stored_count(ctx, passkey.id) == 0


def test_an_unknown_credential_is_refused(ctx: AppContext, user: User) -> None:
    stranger = SoftwareAuthenticator(origin=ISSUER)
    # Registered with another server's database: idplus has never seen it.
    stranger.create({"rp": {"id": "localhost"}, "user": {"id": b64url(b"u")}, "challenge": "AA"})

    assert _refused(ctx, stranger) == "credential_unknown"


def test_a_sign_count_that_goes_back_is_refused_and_logged(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    passkey = register(ctx, user, authenticator)
    log_in(ctx, authenticator, sign_count=5)

    with capture_logs() as logs:
        reasons = [_refused(ctx, authenticator, sign_count=count) for count in (5, 4, 0)]

    assert reasons == ["sign_count"] * 3
    assert _stored_count(ctx, passkey.id) == 5
    went_back = [e for e in logs if e["event"] == "passkey_sign_count_went_back"]
    assert [(e["stored"], e["presented"]) for e in went_back] == [(5, 5), (5, 4), (5, 0)]
    assert went_back[0]["passkey_id"] == passkey.id


def test_a_synced_passkey_that_always_counts_0_logs_in_again_and_again(
    ctx: AppContext, user: User
) -> None:
    synced = SoftwareAuthenticator(
        origin=ISSUER, sign_count_step=0, backup_eligible=True, backed_up=True
    )
    passkey = register(ctx, user, synced)

    for _ in range(3):
        verified = log_in(ctx, synced)

    assert verified.passkey.backed_up is True
    assert verified.acr == "urn:telenor.identity.aal.2"
    assert _stored_count(ctx, passkey.id) == 0


def test_a_passkey_that_counts_after_0_once_counts_on(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    register(ctx, user, authenticator)
    log_in(ctx, authenticator, sign_count=3)

    assert _refused(ctx, authenticator, sign_count=0) == "sign_count"


def test_parallel_verifies_of_one_challenge_let_one_in(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    register(ctx, user, authenticator)
    login = start_login(ctx)
    options = login_options(ctx, interaction_id_hash=login, user=None)
    # Synced-style answers (count 0) so that only the challenge can stop the others.
    assertion = authenticator.get(options, sign_count=0)

    def verify() -> str:
        try:
            verify_passkey_login(
                ctx, interaction_id_hash=login, expected_user=None, credential=assertion
            )
        except PasskeyProblem as refused:
            return refused.reason.value
        return "in"

    assert sorted(in_parallel(6, verify)) == ["challenge_unknown"] * 5 + ["in"]


def test_an_ip_address_issuer_has_no_passkeys(context: AppContext, user: User) -> None:
    login = start_login(context)

    with pytest.raises(PasskeyProblem) as refused:
        login_options(context, interaction_id_hash=login, user=None)

    assert refused.value.reason.value == "unavailable"
    assert "IP address" in refused.value.detail


def test_the_outbox_is_untouched_by_a_login(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    register(ctx, user, authenticator)
    before = Path(ctx.settings.outbox).read_text()

    log_in(ctx, authenticator)

    assert Path(ctx.settings.outbox).read_text() == before
    assert json.loads(before.splitlines()[0])["channel"] == "sms"


# ---- review fixes (issue 18, second review) ---------------------------------------------


def _flip_backup_eligibility(authenticator: SoftwareAuthenticator, eligible: bool) -> None:
    for stored in authenticator.credentials.values():
        stored.backup_eligible = stored.backed_up = eligible


@pytest.mark.parametrize("registered_eligible", [False, True])
def test_a_backup_eligible_flag_that_changed_is_refused_and_logged(
    ctx: AppContext, user: User, registered_eligible: bool
) -> None:
    key = SoftwareAuthenticator(origin=ISSUER, backup_eligible=registered_eligible)
    passkey = register(ctx, user, key)
    _flip_backup_eligibility(key, not registered_eligible)

    with capture_logs() as logs:
        reason = _refused(ctx, key)

    assert reason == "verification_failed"
    (line,) = [e for e in logs if e["event"] == "passkey_backup_eligibility_changed"]
    assert (line["passkey_id"], line["stored"]) == (passkey.id, registered_eligible)
    with ctx.store.reading() as uow:
        stored = uow.passkeys.find(passkey.id)
    assert stored is not None and stored.last_used_at is None  # the use was not recorded


def test_a_hardware_passkey_that_turns_backup_eligible_never_gives_level_3(
    ctx: AppContext, user: User, tmp_path: Path
) -> None:
    ca = AttestationCa()
    (roots := tmp_path / "roots.pem").write_bytes(ca.root_pem)
    rooted = on_issuer(ctx, webauthn_attestation_roots=roots)
    key = SoftwareAuthenticator(origin=ISSUER)
    register(rooted, user, key, attestation="full", ca=ca)
    _flip_backup_eligibility(key, True)

    assert _refused(rooted, key) == "verification_failed"


def test_a_login_stores_the_passkeys_backup_state(ctx: AppContext, user: User) -> None:
    synced = SoftwareAuthenticator(origin=ISSUER, backup_eligible=True, sign_count_step=0)
    passkey = register(ctx, user, synced)
    assert not passkey.backed_up
    for stored in synced.credentials.values():
        stored.backed_up = True

    verified = log_in(ctx, synced)

    with ctx.store.reading() as uow:
        found = uow.passkeys.find(passkey.id)
    assert found is not None and found.backed_up and verified.passkey.backed_up


def test_a_username_less_assertion_must_name_its_user(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    register(ctx, user, authenticator)

    assert _refused(ctx, authenticator, omit_user_handle=True) == "verification_failed"
    # A step-up knows its user already: the user handle may be left out (§7.2 step 6).
    assert log_in(ctx, authenticator, user=user, omit_user_handle=True).user == user


def test_a_credential_id_longer_than_webauthn_allows_is_malformed(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    register(ctx, user, authenticator)
    login = start_login(ctx)
    assertion = authenticator.get(login_options(ctx, interaction_id_hash=login, user=None))
    assertion["id"] = assertion["rawId"] = b64url(b"x" * 1024)

    with pytest.raises(PasskeyProblem) as refused:
        verify_passkey_login(
            ctx, interaction_id_hash=login, expected_user=None, credential=assertion
        )

    assert refused.value.reason.value == "malformed"


def test_a_login_never_reads_the_attestation_roots(
    ctx: AppContext, user: User, tmp_path: Path, authenticator: SoftwareAuthenticator
) -> None:
    ca = AttestationCa()
    (roots := tmp_path / "roots.pem").write_bytes(ca.root_pem)
    rooted = on_issuer(ctx, webauthn_attestation_roots=roots)
    register(rooted, user, authenticator)
    roots.unlink()  # a file gone (or unreadable) after start changes nothing for logins

    assert log_in(rooted, authenticator).user == user
