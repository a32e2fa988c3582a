"""Adding a passkey on the account page (WebAuthn Level 3 §7.1 "Registering a New Credential").

Only a session that logged in with two factors within FRESH_LOGIN_MAX_AGE may ask for options:
a stolen or long-open session must not plant a way in. The options ask for a discoverable
credential (resident key) with user verification, so the passkey alone is two factors and can
log in without a username. Attestation is "none" unless the operator configured attestation
roots ("direct" then); only a credential attested by one of those roots and bound to one
device (not backup-eligible) is `hardware_attested`, the one kind that reaches aal.3.

The response is verified by `webauthn.verify_registration_response` with user verification
required and our rp id and origin exactly; its challenge is used up by the verify, right or
wrong. Freshness is checked again then: options fetched just in time do not stretch it. The
insert, the audit event and the notice to the user (SMS, and e-mail when the account has an
address) share one unit of work, the notice last: a passkey its owner is not told of is not
added (notices.py). An account with neither a phone number nor an e-mail address cannot add
one at all.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from typing import Any

from webauthn import generate_registration_options, verify_registration_response
from webauthn.helpers import options_to_json_dict, validate_certificate_chain
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import InvalidCertificateChain
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AttestationFormat,
    AttestationObject,
    AuthenticatorSelectionCriteria,
    ClientDataType,
    CredentialDeviceType,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

from idplus.auth.sms_texts import passkey_added_text
from idplus.logs import get_logger
from idplus.metrics import SmsPurpose
from idplus.models import AuditEvent, Passkey, SsoSession, User
from idplus.protocol.assurance import level_of_acr
from idplus.protocol.context import AppContext
from idplus.protocol.passkeys.challenges import (
    Purpose,
    consume_challenge,
    issue_challenge,
    registration_binding,
    run_consuming,
)
from idplus.protocol.passkeys.descriptors import descriptors, user_handle
from idplus.protocol.passkeys.errors import PasskeyProblem, PasskeyProblemReason
from idplus.protocol.passkeys.notices import can_be_told, tell_owner
from idplus.protocol.passkeys.relying_party import RelyingParty, relying_party
from idplus.protocol.passkeys.responses import (
    REFUSED_INPUT,
    CredentialJson,
    attestation_object_of,
    check_made_for_us,
    client_data_of,
    credential_id_of,
    parse_registration,
)
from idplus.store.base import UnitOfWork

log = get_logger(__name__)

# How long the browser (and the user) has to create the passkey once options are out.
REGISTRATION_TIMEOUT = timedelta(minutes=5)
# How recent the session's two-factor login must be for a passkey to be added.
FRESH_LOGIN_MAX_AGE = timedelta(minutes=5)
NAME_MAX_LENGTH = 64
# In order of preference; the library verifies each of them.
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]


def registration_allowed(session: SsoSession | None, user: User, now: datetime) -> bool:
    """The user's live session logged in with two factors within FRESH_LOGIN_MAX_AGE (the
    account page otherwise sends the user through a step-up login first)."""
    return (
        session is not None
        and session.user_id == user.id
        and session.is_active(now)
        and level_of_acr(session.acr) >= 2
        and now - session.auth_time <= FRESH_LOGIN_MAX_AGE
    )


def registration_options(ctx: AppContext, user: User, session_id: str) -> dict[str, Any]:
    """`PublicKeyCredentialCreationOptions` as JSON (binary fields base64url) for the account
    page's `navigator.credentials.create()`, with a new challenge bound to the session.

    Raises PasskeyProblem: UNAVAILABLE, NO_CONTACT, FRESH_LOGIN_REQUIRED."""
    rp = relying_party(ctx.settings, attestation=True)
    now = ctx.clock.now()
    _check_contact(user)
    with ctx.store.transaction() as uow:
        if not registration_allowed(uow.sessions.find(session_id), user, now):
            raise PasskeyProblem(
                PasskeyProblemReason.FRESH_LOGIN_REQUIRED, "no recent two-factor login"
            )
        existing = uow.passkeys.list_for_user(user.id)
        challenge = issue_challenge(
            ctx,
            uow,
            purpose=Purpose.REGISTER,
            binding_hash=registration_binding(ctx, session_id),
            user_id=user.id,
            expires_at=now + REGISTRATION_TIMEOUT,
        )
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=user.username,
        user_id=user_handle(user),
        user_display_name=_display_name(user),
        challenge=challenge,
        timeout=int(REGISTRATION_TIMEOUT.total_seconds() * 1000),
        attestation=(
            AttestationConveyancePreference.DIRECT
            if rp.wants_attestation
            else AttestationConveyancePreference.NONE
        ),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=descriptors(existing),
        supported_pub_key_algs=ALGORITHMS,
    )
    return options_to_json_dict(options)


def _check_contact(user: User) -> None:
    if not can_be_told(user):
        raise PasskeyProblem(PasskeyProblemReason.NO_CONTACT, "no phone number, no e-mail")


def _display_name(user: User) -> str:
    full = " ".join(part for part in (user.given_name, user.family_name) if part)
    return full or user.username


def register_passkey(
    ctx: AppContext,
    user: User,
    session_id: str,
    credential: CredentialJson,
    name: str = "",
    *,
    locale: str = "en",
) -> Passkey:
    """Verify the browser's answer to `registration_options` and add the passkey.

    `credential` is the `PublicKeyCredential` as JSON (a string or the decoded object);
    `name` the user's name for it (cleaned to one line of at most 64 characters; empty: a
    numbered default); `locale` the language of the notice. Raises PasskeyProblem:
    UNAVAILABLE, MALFORMED, CHALLENGE_UNKNOWN, USER_MISMATCH, FRESH_LOGIN_REQUIRED,
    NO_CONTACT, ORIGIN_OR_RP_MISMATCH, VERIFICATION_FAILED, ALREADY_REGISTERED; NoticeNotSent
    when the owner could not be told (nothing is added, the challenge stays unused)."""
    rp = relying_party(ctx.settings, attestation=True)
    parsed = parse_registration(credential)
    client_data = client_data_of(parsed.response.client_data_json, ClientDataType.WEBAUTHN_CREATE)
    attestation = attestation_object_of(parsed)

    def step(uow: UnitOfWork) -> Passkey:
        now = ctx.clock.now()
        used = consume_challenge(
            ctx,
            uow,
            client_data.challenge,
            purpose=Purpose.REGISTER,
            binding_hash=registration_binding(ctx, session_id),
        )
        owner = uow.users.find(user.id)
        if used.user_id != user.id or owner is None:
            raise PasskeyProblem(PasskeyProblemReason.USER_MISMATCH, "challenge of another user")
        _check_contact(owner)
        # Checked again: the login may have aged (or the session ended) since the options.
        if not registration_allowed(uow.sessions.find(session_id), user, now):
            raise PasskeyProblem(
                PasskeyProblemReason.FRESH_LOGIN_REQUIRED, "no recent two-factor login"
            )
        check_made_for_us(client_data, attestation.auth_data.rp_id_hash, rp)
        verified = _verify(parsed, client_data.challenge, rp)
        passkey = _new_passkey(ctx, uow, owner, parsed, verified, attestation, rp, name, now)
        _add(ctx, uow, owner, passkey, locale, now)
        return passkey

    return run_consuming(ctx, step)


def _verify(
    parsed: RegistrationCredential, challenge: bytes, rp: RelyingParty
) -> VerifiedRegistration:
    try:
        return verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
            supported_pub_key_algs=ALGORITHMS,
        )
    except REFUSED_INPUT as exc:
        raise PasskeyProblem(
            PasskeyProblemReason.VERIFICATION_FAILED, f"{type(exc).__name__}: {exc}"[:300]
        ) from None


def _new_passkey(
    ctx: AppContext,
    uow: UnitOfWork,
    owner: User,
    parsed: RegistrationCredential,
    verified: VerifiedRegistration,
    attestation: AttestationObject,
    rp: RelyingParty,
    name: str,
    now: datetime,
) -> Passkey:
    credential_id = credential_id_of(verified.credential_id)
    if uow.passkeys.find_by_credential_id(credential_id) is not None:
        raise PasskeyProblem(PasskeyProblemReason.ALREADY_REGISTERED, "credential id known")
    backup_eligible = verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    # Each transport once: the browser's list is stored as it is, so its size is bounded.
    transports = dict.fromkeys(parsed.response.transports or [])
    return Passkey(
        id=ctx.random.hex_id(),
        user_id=owner.id,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=tuple(transport.value for transport in transports),
        backup_eligible=backup_eligible,
        backed_up=verified.credential_backed_up,
        aaguid=verified.aaguid,
        hardware_attested=not backup_eligible and _attested_by_roots(verified, attestation, rp),
        name=clean_name(name) or f"Passkey {len(uow.passkeys.list_for_user(owner.id)) + 1}",
        created_at=now,
    )


def _attested_by_roots(
    verified: VerifiedRegistration, attestation: AttestationObject, rp: RelyingParty
) -> bool:
    """The attestation's certificate chain (x5c; the library verified its signature) leads
    to one of the operator's roots. Self attestation and "none" prove nothing; the library's
    own roots (Apple, Google) do not count, only the operator's."""
    x5c = attestation.att_stmt.x5c if attestation.att_stmt is not None else None
    if not rp.attestation_roots or verified.fmt == AttestationFormat.NONE or not x5c:
        return False
    try:
        return validate_certificate_chain(x5c=x5c, pem_root_certs_bytes=list(rp.attestation_roots))
    except InvalidCertificateChain:
        return False


def _add(
    ctx: AppContext, uow: UnitOfWork, owner: User, passkey: Passkey, locale: str, now: datetime
) -> None:
    if not uow.passkeys.insert(passkey):
        # A parallel registration of the same credential stored it first.
        raise PasskeyProblem(PasskeyProblemReason.ALREADY_REGISTERED, "credential id known")
    uow.audit.record(
        AuditEvent(
            "user.passkey_added",
            now,
            user_id=owner.id,
            detail={
                "passkey_id": passkey.id,
                "name": passkey.name,
                "aaguid": passkey.aaguid,
                "backup_eligible": passkey.backup_eligible,
                "hardware_attested": passkey.hardware_attested,
            },
        )
    )
    # Last: a notice that cannot go out rolls the insert back (NoticeNotSent).
    body = passkey_added_text(locale, passkey.name)
    tell_owner(ctx.sender, owner, body, now, SmsPurpose.PASSKEY_ADDED, must_reach=True)
    log.info(
        "passkey_added",
        user_id=owner.id,
        passkey_id=passkey.id,
        aaguid=passkey.aaguid,
        backup_eligible=passkey.backup_eligible,
        hardware_attested=passkey.hardware_attested,
    )


def clean_name(name: str) -> str:
    """One line of plain text, at most NAME_MAX_LENGTH characters: control and invisible
    characters (bidi overrides, zero-width spaces) could make the account page or the SMS read
    otherwise."""
    text = unicodedata.normalize("NFC", name)
    kept = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    return " ".join(kept.split())[:NAME_MAX_LENGTH].rstrip()
