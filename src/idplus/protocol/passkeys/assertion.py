"""Logging in with a passkey (WebAuthn Level 3 §7.2 "Verifying an Authentication Assertion").

Options for a login that does not know the user yet list no credentials: the browser offers
the user's discoverable passkeys (a button, or autofill with conditional mediation). A login
that knows the user (a step-up after the password) lists theirs. Either way the challenge is
bound to the login in progress and expires with it.

The assertion is verified by `webauthn.verify_authentication_response` with user verification
required and our rp id and origin exactly. Its challenge is used up, right or wrong, in the
unit of work that also stores the new sign count: a count that did not go up is refused and
logged (`passkey_sign_count_went_back`), unless it is 0 before and after, as synced passkeys
report. An assertion whose backup-eligible flag differs from the one registered is refused
and logged (`passkey_backup_eligibility_changed`): the flag never changes for a credential
(§6.1.3), so a change means another authenticator or a tampered one. A username-less
assertion must name its user (userHandle, §7.2 step 6). A passkey login is two factors: aal.2,
or aal.3 for a hardware-attested passkey that is bound to one device.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from webauthn import generate_authentication_options, verify_authentication_response
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers import options_to_json_dict
from webauthn.helpers.structs import (
    AuthenticationCredential,
    ClientDataType,
    CredentialDeviceType,
    UserVerificationRequirement,
)

from idplus.logs import get_logger
from idplus.models import Passkey, User
from idplus.protocol.assurance import AMR_PASSKEY, acr_for_level
from idplus.protocol.context import AppContext
from idplus.protocol.passkeys.challenges import (
    Purpose,
    consume_challenge,
    issue_challenge,
    login_binding,
    run_consuming,
)
from idplus.protocol.passkeys.descriptors import descriptors, user_handle
from idplus.protocol.passkeys.errors import PasskeyProblem, PasskeyProblemReason
from idplus.protocol.passkeys.relying_party import RelyingParty, relying_party
from idplus.protocol.passkeys.responses import (
    REFUSED_INPUT,
    CredentialJson,
    assertion_rp_id_hash,
    check_made_for_us,
    client_data_of,
    credential_id_of,
    parse_assertion,
)
from idplus.store.base import UnitOfWork

log = get_logger(__name__)

# What the browser is told to wait at most; the challenge itself lives as long as the login.
LOGIN_TIMEOUT = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class VerifiedPasskey:
    """A passkey login: the passkey (with its new sign count) and its user."""

    passkey: Passkey
    user: User

    @property
    def acr(self) -> str:
        """aal.3 only for a passkey attested by the operator's roots and bound to one device."""
        hardware = self.passkey.hardware_attested and not self.passkey.backup_eligible
        return acr_for_level(3 if hardware else 2)

    @property
    def amr(self) -> tuple[str, ...]:
        return (AMR_PASSKEY,)


def login_options(
    ctx: AppContext, *, interaction_id_hash: str, user: User | None
) -> dict[str, Any]:
    """`PublicKeyCredentialRequestOptions` as JSON (binary fields base64url) for the login in
    progress `interaction_id_hash` (the HMAC its interaction is stored under); `user`: the
    user the login already knows (step-up), whose passkeys are listed, or None (any
    discoverable passkey, for a username-less or autofill login).

    Raises PasskeyProblem: UNAVAILABLE; CHALLENGE_UNKNOWN when the login is gone."""
    rp = relying_party(ctx.settings)
    now = ctx.clock.now()
    with ctx.store.transaction() as uow:
        interaction = uow.interactions.find(interaction_id_hash)
        if interaction is None or interaction.expires_at <= now:
            raise PasskeyProblem(PasskeyProblemReason.CHALLENGE_UNKNOWN, "the login is gone")
        allowed = uow.passkeys.list_for_user(user.id) if user is not None else []
        challenge = issue_challenge(
            ctx,
            uow,
            purpose=Purpose.LOGIN,
            binding_hash=login_binding(ctx, interaction_id_hash),
            user_id=user.id if user is not None else None,
            expires_at=interaction.expires_at,
        )
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=int(min(LOGIN_TIMEOUT, interaction.expires_at - now).total_seconds() * 1000),
        allow_credentials=descriptors(allowed),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json_dict(options)


def verify_passkey_login(
    ctx: AppContext,
    *,
    interaction_id_hash: str,
    expected_user: User | None,
    credential: CredentialJson,
) -> VerifiedPasskey:
    """Verify the browser's answer to `login_options` for the same login.

    `expected_user`: the user the login already knows (step-up), whom the passkey must be of;
    None for a username-less login. Raises PasskeyProblem: UNAVAILABLE, MALFORMED,
    CHALLENGE_UNKNOWN, CREDENTIAL_UNKNOWN, USER_MISMATCH, ORIGIN_OR_RP_MISMATCH,
    VERIFICATION_FAILED, SIGN_COUNT. Opens no session: the login state machine does that."""
    rp = relying_party(ctx.settings)
    parsed = parse_assertion(credential)
    client_data = client_data_of(parsed.response.client_data_json, ClientDataType.WEBAUTHN_GET)
    rp_id_hash = assertion_rp_id_hash(parsed)

    def step(uow: UnitOfWork) -> VerifiedPasskey:
        used = consume_challenge(
            ctx,
            uow,
            client_data.challenge,
            purpose=Purpose.LOGIN,
            binding_hash=login_binding(ctx, interaction_id_hash),
        )
        check_made_for_us(client_data, rp_id_hash, rp)
        passkey, user = _passkey_and_user(uow, parsed, identified=expected_user is not None)
        for expected in (used.user_id, expected_user.id if expected_user else None):
            if expected is not None and expected != user.id:
                raise PasskeyProblem(PasskeyProblemReason.USER_MISMATCH, "another user's login")
        verified = _verify(parsed, client_data.challenge, rp, passkey)
        _check_backup_eligibility(passkey, verified)
        return VerifiedPasskey(_record_use(ctx, uow, passkey, verified), user)

    return run_consuming(ctx, step)


def _passkey_and_user(
    uow: UnitOfWork, parsed: AuthenticationCredential, *, identified: bool
) -> tuple[Passkey, User]:
    """`identified`: the login knew its user before the ceremony (a step-up)."""
    passkey = uow.passkeys.find_by_credential_id(credential_id_of(parsed.raw_id))
    user = uow.users.find(passkey.user_id) if passkey is not None else None
    if passkey is None or user is None:
        raise PasskeyProblem(PasskeyProblemReason.CREDENTIAL_UNKNOWN, "no such passkey")
    handle = parsed.response.user_handle
    if handle is None and not identified:
        # §7.2 step 6: a login that did not know its user needs the passkey to name them.
        raise PasskeyProblem(PasskeyProblemReason.VERIFICATION_FAILED, "no user handle")
    # A discoverable credential names its user; it must be the one we registered it to.
    if handle is not None and handle != user_handle(user):
        raise PasskeyProblem(PasskeyProblemReason.USER_MISMATCH, "user handle of another user")
    return passkey, user


def _verify(
    parsed: AuthenticationCredential, challenge: bytes, rp: RelyingParty, passkey: Passkey
) -> VerifiedAuthentication:
    try:
        # The sign count is checked after the signature (by `_record_use`, atomically), so
        # the library is given 0, for which it checks nothing.
        return verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except REFUSED_INPUT as exc:
        raise PasskeyProblem(
            PasskeyProblemReason.VERIFICATION_FAILED, f"{type(exc).__name__}: {exc}"[:300]
        ) from None


def _check_backup_eligibility(passkey: Passkey, verified: VerifiedAuthentication) -> None:
    """The BE flag is fixed when a credential is created (§6.1.3): one that changed is not
    the authenticator that registered it, or one that lies about itself."""
    eligible = verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    if eligible == passkey.backup_eligible:
        return
    log.warning(
        "passkey_backup_eligibility_changed",
        user_id=passkey.user_id,
        passkey_id=passkey.id,
        stored=passkey.backup_eligible,
        presented=eligible,
    )
    raise PasskeyProblem(
        PasskeyProblemReason.VERIFICATION_FAILED,
        f"backup eligibility {eligible} after {passkey.backup_eligible}",
    )


def _record_use(
    ctx: AppContext, uow: UnitOfWork, passkey: Passkey, verified: VerifiedAuthentication
) -> Passkey:
    now: datetime = ctx.clock.now()
    count = verified.new_sign_count
    if not uow.passkeys.record_use(
        passkey.id, sign_count=count, backed_up=verified.credential_backed_up, now=now
    ):
        # A signed assertion whose counter did not go up: a cloned authenticator, or a replay
        # of an assertion whose challenge was issued again (which ours never are).
        log.warning(
            "passkey_sign_count_went_back",
            user_id=passkey.user_id,
            passkey_id=passkey.id,
            stored=passkey.sign_count,
            presented=count,
        )
        raise PasskeyProblem(
            PasskeyProblemReason.SIGN_COUNT, f"sign count {count} after {passkey.sign_count}"
        )
    return replace(
        passkey, sign_count=count, backed_up=verified.credential_backed_up, last_used_at=now
    )
