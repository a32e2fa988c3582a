"""Invitations to join a company (issue 20): a company's admin (or an operator) invites someone
by e-mail; the message carries a single-use link, `{issuer}/portal/invitations?token={token}`,
valid for 7 days; whoever opens it logged in joins the company with the invitation's role. The
token is in the query, not the path: request logs write the path alone.

Only an HMAC of the link's token is stored, and the token is never logged, audited or returned
by the API: it exists in the e-mail alone. An invitation is used by one conditional UPDATE, so
a link accepted twice at once makes one member. An unknown, used and expired link all get the
same answer. Invitations are rate limited per inviter (20 an hour) and per company (50 a day)
with the store's atomic attempt counters, so parallel requests cannot exceed either limit.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from idplus.auth.sender import Message, Sender
from idplus.auth.throttle import Throttled, ThrottleRule, key_of, reserve
from idplus.clock import Clock
from idplus.crypto.hashing import hash_handle
from idplus.errors import Forbidden, NotFoundError, RateLimited, Unavailable, ValidationError
from idplus.logs import get_logger
from idplus.manage.access import require_company_admin
from idplus.manage.companies import actor_of, detail_of
from idplus.models import (
    COMPANY_ADMIN,
    COMPANY_DEVELOPER,
    COMPANY_ROLES,
    AuditEvent,
    Caller,
    Company,
    Invitation,
    Membership,
)
from idplus.randomness import Randomness
from idplus.store.base import Store, UnitOfWork

INVITATION_LIFETIME = timedelta(days=7)
MAX_EMAIL_LENGTH = 320
# Tokens are 43 characters; anything much longer is not one (and is not worth hashing).
MAX_TOKEN_LENGTH = 200
PER_INVITER = ThrottleRule("invite-actor:", 20, timedelta(hours=1))
PER_COMPANY = ThrottleRule("invite-company:", 50, timedelta(days=1))
# One answer for unknown, used and expired links: which it is helps no one holding a link.
GONE = "this invitation link has expired or was used already"
LOCALES = ("en", "nb")

log = get_logger("idplus.invitations")

_CONTROL_OR_SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
_ROLE_NAMES = {
    "en": {COMPANY_ADMIN: "an admin", COMPANY_DEVELOPER: "a developer"},
    "nb": {COMPANY_ADMIN: "administrator", COMPANY_DEVELOPER: "utvikler"},
}
_BODY = {
    "en": "You are invited to join the company “{company}” in the idplus developer portal as "
    "{role}.\n\nOpen this link to accept:\n{link}\n\nThe link is valid for {days} days and can "
    "be used once. If you did not expect this invitation, ignore this e-mail.",
    "nb": "Du er invitert til å bli med i selskapet «{company}» i utviklerportalen til idplus "
    "som {role}.\n\nÅpne denne lenken for å takke ja:\n{link}\n\nLenken gjelder i {days} dager "
    "og kan bare brukes én gang. Venter du ikke denne invitasjonen, kan du se bort fra "
    "e-posten.",
}


@dataclass(frozen=True, slots=True)
class InvitationMail:
    """What sending an invitation needs from the server (the admin API and the portal pass
    their application context's sender, issuer, handle key and randomness)."""

    sender: Sender
    issuer: str
    handle_key: bytes
    random: Randomness


@dataclass(frozen=True, slots=True)
class InvitationPreview:
    """What the holder of a pending link may see before accepting it."""

    company_id: str
    company_name: str
    role: str
    email: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AcceptedInvitation:
    company_id: str
    company_name: str
    # The member's role now: the invitation's, or the one they had already.
    role: str
    already_member: bool


def invite(
    store: Store,
    clock: Clock,
    mail: InvitationMail,
    caller: Caller,
    company_id: str,
    email: str,
    role: str = COMPANY_DEVELOPER,
    *,
    locale: str | None = None,
) -> Invitation:
    """Invite `email` to the company with `role` and send the link; `locale`: "en" or "nb"
    for a message in that language, None for both. RateLimited over the limits."""
    check_email(email)
    if role not in COMPANY_ROLES:
        raise ValidationError(f"role: one of {', '.join(COMPANY_ROLES)}")
    if locale is not None and locale not in LOCALES:
        raise ValidationError(f"locale: one of {', '.join(LOCALES)}")
    now = clock.now()
    token = mail.random.handle(32)
    with store.transaction() as uow:
        # Locked first, as deleting the company does: a delete waits for the invitation or the
        # invitation sees no company (404), never one deleted under it.
        company = uow.companies.find(company_id, lock=True)
        require_company_admin(uow, caller, company_id)
        assert company is not None, "require_company_admin found it"
        _spend_attempts(uow, caller, company_id, now)
        invitation = Invitation(
            id=uuid.uuid4().hex,
            company_id=company_id,
            email=email,
            role=role,
            token_hash=token_hash(mail.handle_key, token),
            invited_by=actor_of(caller),
            created_at=now,
            expires_at=now + INVITATION_LIFETIME,
        )
        uow.invitations.insert(invitation)
        facts = {"company_id": company_id, "invitation_id": invitation.id, "role": role}
        detail = detail_of(caller, **facts, email=email)
        uow.audit.record(
            AuditEvent(
                "company.invitation_sent", now, detail=detail, target=f"company:{company_id}"
            )
        )
        # Sent inside the transaction, last: a failed send rolls the invitation (and its
        # attempts) back, so no invitation exists that nobody received. The one gap left, a
        # commit failing after the send, leaves a link that answers GONE.
        _send(mail, company, invitation, token, locale)
    return invitation


def _send(
    mail: InvitationMail, company: Company, invitation: Invitation, token: str, locale: str | None
) -> None:
    link = f"{mail.issuer}/portal/invitations?{urlencode({'token': token})}"
    body = _body(company, invitation.role, link, locale)
    message = Message(to=invitation.email, channel="email", body=body, at=invitation.created_at)
    try:
        mail.sender.send(message)
    except Exception as error:  # any sender's failure (a mail relay down, a full disk …)
        # The error's type only: its text may hold the address or the message with the link.
        log.warning("invitation_not_sent", company_id=company.id, error=type(error).__name__)
        raise Unavailable("the invitation could not be sent; try again later") from None


def check_email(email: str) -> None:
    """One address on one line: something@somewhere, at most 320 characters (RFC 5321)."""
    local, _, domain = email.rpartition("@")
    if not local or not domain or len(email) > MAX_EMAIL_LENGTH or _CONTROL_OR_SPACE.search(email):
        raise ValidationError(
            f"email: one e-mail address (name@example.com), at most {MAX_EMAIL_LENGTH} characters"
        )


def token_hash(handle_key: bytes, token: str) -> str:
    return hash_handle(handle_key, f"invitation:{token}")


def _spend_attempts(uow: UnitOfWork, caller: Caller, company_id: str, now: datetime) -> None:
    keys = [key_of(PER_INVITER, actor_of(caller)), key_of(PER_COMPANY, company_id)]
    try:
        reserve(uow, keys, now)
    except Throttled as refused:
        seconds = max(1, math.ceil((refused.until - now).total_seconds()))
        raise RateLimited("too many invitations: try again later", retry_after=seconds) from None


def _body(company: Company, role: str, link: str, locale: str | None) -> str:
    days = INVITATION_LIFETIME.days
    texts = [
        _BODY[language].format(
            company=company.name, role=_ROLE_NAMES[language][role], link=link, days=days
        )
        for language in (LOCALES if locale is None else (locale,))
    ]
    return "\n\n---\n\n".join(texts)


def list_invitations(
    store: Store, clock: Clock, caller: Caller, company_id: str
) -> list[Invitation]:
    """The company's pending invitations (admins only), oldest first."""
    with store.reading() as uow:
        require_company_admin(uow, caller, company_id)
        return uow.invitations.pending_of_company(company_id, clock.now())


def revoke_invitation(
    store: Store, clock: Clock, caller: Caller, company_id: str, invitation_id: str
) -> None:
    """Withdraw an invitation not accepted yet: its link answers GONE from now on."""
    with store.transaction() as uow:
        require_company_admin(uow, caller, company_id)
        invitation = uow.invitations.find(invitation_id)
        if invitation is None or not uow.invitations.revoke(company_id, invitation_id):
            raise NotFoundError(f"no pending invitation {invitation_id!r} in this company")
        facts = {"company_id": company_id, "invitation_id": invitation_id}
        detail = detail_of(caller, **facts, email=invitation.email)
        uow.audit.record(
            AuditEvent(
                "company.invitation_revoked",
                clock.now(),
                detail=detail,
                target=f"company:{company_id}",
            )
        )


def find_invitation(store: Store, clock: Clock, handle_key: bytes, token: str) -> InvitationPreview:
    """The pending invitation of a link (for the page that offers to accept it)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise ValidationError(GONE)
    with store.reading() as uow:
        invitation = uow.invitations.find_pending(token_hash(handle_key, token), clock.now())
        company = uow.companies.find(invitation.company_id) if invitation else None
    if invitation is None or company is None:
        raise ValidationError(GONE)
    return InvitationPreview(
        company.id, company.name, invitation.role, invitation.email, invitation.expires_at
    )


def accept_invitation(
    store: Store, clock: Clock, handle_key: bytes, caller: Caller, token: str
) -> AcceptedInvitation:
    """The calling user joins the invitation's company with its role (a member already keeps
    the role they have; the link is used all the same)."""
    if caller.user_id is None:
        raise Forbidden("only a user can accept an invitation")
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise ValidationError(GONE)
    now = clock.now()
    hashed = token_hash(handle_key, token)
    with store.transaction() as uow:
        # The company's row first, then the invitation's, the order deleting the company takes
        # them in (its cascade): the two never deadlock, and a deleted company's link is GONE.
        pending = uow.invitations.find_pending(hashed, now)
        company = uow.companies.find(pending.company_id, lock=True) if pending else None
        invitation = uow.invitations.accept(hashed, caller.user_id, now) if company else None
        if invitation is None or company is None or invitation.company_id != company.id:
            raise ValidationError(GONE)
        membership = Membership(company.id, caller.user_id, invitation.role, now)
        added = uow.companies.add_member(membership)
        role = uow.companies.role_of(company.id, caller.user_id) or invitation.role
        facts = {"company_id": company.id, "invitation_id": invitation.id, "role": role}
        accepted = detail_of(caller, **facts, already_member=not added)
        uow.audit.record(
            AuditEvent(
                "company.invitation_accepted",
                now,
                user_id=caller.user_id,
                detail=accepted,
                target=f"company:{company.id}",
            )
        )
        if added:
            added_detail = detail_of(caller, **facts)
            uow.audit.record(
                AuditEvent(
                    "company.member_added",
                    now,
                    user_id=caller.user_id,
                    detail=added_detail,
                    target=f"company:{company.id}",
                )
            )
    return AcceptedInvitation(company.id, company.name, role, already_member=not added)
