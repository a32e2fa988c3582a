"""Which local user an upstream account logs in as, and what the upstream says about them.

An upstream account (provider, upstream `sub`) is linked to one local user. On its first login
the provider's `link_by` may join it to the one local user (a user with a password) who has the
same verified e-mail or phone number; otherwise a user is created for it (just-in-time, no
password). At every login the profile claims are refreshed from the upstream, except the
contact details of users who have a password: those are where their second factor goes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from idplus.errors import ValidationError
from idplus.identifiers import normalise_email, normalise_phone_number
from idplus.logs import get_logger
from idplus.models import NO_PASSWORD, UpstreamProvider, User
from idplus.protocol.context import AppContext
from idplus.protocol.federation.errors import LinkRefusal, UpstreamError
from idplus.store.base import UnitOfWork

log = get_logger(__name__)

# users.username holds 320 characters; a longer `<provider>:<sub>` is hashed.
_USERNAME_MAX = 320
_NAME_MAX = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_E164 = re.compile(r"\+[1-9]\d{7,14}")
# Claims whose value joins a local user, and the claim saying the upstream verified it.
_VERIFIED_BY = {"email": "email_verified", "phone_number": "phone_number_verified"}


def account_of(ctx: AppContext, provider: UpstreamProvider, claims: Mapping[str, Any]) -> User:
    """The local user of the upstream account `claims["sub"]`, linked or created on its first
    login, with the profile refreshed from `claims`.

    Two first logins of one account may run at once: every insert is idempotent, and both
    logins end as whichever user was linked first.
    """
    subject, now = str(claims["sub"]), ctx.clock.now()
    with ctx.store.transaction() as uow:
        user_id = uow.upstream_accounts.find_user_id(provider.id, subject)
        if user_id is None:
            user_id = _link_first_login(uow, ctx, provider, claims)
        user = uow.users.find(user_id)
        if user is None:
            raise UpstreamError("the linked user is gone")
        changes = profile_changes(user, provider, claims)
        uow.users.update_profile(user.id, changes, now)
    return replace(user, **changes)  # type: ignore[arg-type]


def _link_first_login(
    uow: UnitOfWork, ctx: AppContext, provider: UpstreamProvider, claims: Mapping[str, Any]
) -> str:
    subject, now = str(claims["sub"]), ctx.clock.now()
    target = link_target(uow, provider, claims)
    joined = target is not None
    if target is None:
        target = _provisioned_user(uow, ctx, provider, claims)
    if uow.upstream_accounts.insert_if_absent(provider.id, subject, target.id, now) and joined:
        log.info("upstream_account_linked", provider=provider.id, user_id=target.id,
                 link_by=provider.link_by)  # fmt: skip
    linked = uow.upstream_accounts.find_user_id(provider.id, subject)
    if linked is None:
        raise UpstreamError("the upstream account could not be linked")
    return linked


def link_target(
    uow: UnitOfWork, provider: UpstreamProvider, claims: Mapping[str, Any]
) -> User | None:
    """The local user the provider's `link_by` joins this account to; None: create one.

    Only users with a password are targets: a user another upstream created is that
    upstream's word, not a local account someone proved they own. A target must not need a
    second factor the upstream login would skip, must not have another account at this
    provider already (an address the upstream gave to someone new), and must not have
    disconnected this very account.
    """
    field = provider.link_by
    if field not in _VERIFIED_BY:
        return None
    value = _normalised(field, claims.get(field))
    if value is None:
        raise UpstreamError(f"link-by {field}: missing or malformed", LinkRefusal.MISSING)
    if not is_verified(claims.get(_VERIFIED_BY[field])):
        raise UpstreamError(f"link-by {field}: not verified upstream", LinkRefusal.UNVERIFIED)
    matches = uow.users.users_with_password_where(field, value, limit=2)
    if len(matches) > 1:
        raise UpstreamError(f"link-by {field}: several local users", LinkRefusal.AMBIGUOUS)
    if not matches:
        return None
    target, subject = matches[0], str(claims["sub"])
    if target.otp_required:
        raise UpstreamError("link-by: the user has a required second factor",
                            LinkRefusal.SECOND_FACTOR)  # fmt: skip
    others = uow.upstream_accounts.list_for_user(target.id)
    if any(a.provider_id == provider.id and a.subject != subject for a in others):
        raise UpstreamError("link-by: the user has another account at this provider",
                            LinkRefusal.ALREADY_LINKED)  # fmt: skip
    if uow.upstream_accounts.was_unlinked(provider.id, subject, target.id):
        raise UpstreamError("link-by: the user disconnected this account",
                            LinkRefusal.DISCONNECTED)  # fmt: skip
    return target


def is_verified(flag: object) -> bool:
    # Some providers (AWS Cognito) send the boolean as a string.
    return flag is True or flag == "true"


def _normalised(field: str, value: object) -> str | None:
    """An upstream's e-mail or phone claim in the form local users' values have, or None.

    Stricter than for local input: an e-mail must be ASCII (Unicode case folding would let
    `\u212aari@…` match `kari@…`), and a phone number must be E.164 with its `+` (a national
    number of another country must not become a Norwegian one).
    """
    text = _clean_text(value, 320)
    if text is None:
        return None
    try:
        if field == "email":
            return normalise_email(text) if text.isascii() else None
        compact = _PHONE_SEPARATORS.sub("", text)
        return normalise_phone_number(compact) if _E164.fullmatch(compact) else None
    except ValidationError:
        return None


def _clean_text(value: object, limit: int) -> str | None:
    """A claim's string value if it is one a database and a page can hold: encodable, without
    control characters, and at most `limit` characters."""
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        return None
    if _CONTROL.search(value):
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from \ud800-style JSON escapes
        return None
    return value


def _provisioned_user(
    uow: UnitOfWork, ctx: AppContext, provider: UpstreamProvider, claims: Mapping[str, Any]
) -> User:
    new = _new_user(uow, ctx, provider, str(claims["sub"]))
    if uow.users.insert_if_absent(new, ctx.clock.now()):
        log.info("upstream_user_created", provider=provider.id, user_id=new.id)
    created = uow.users.find_by_username(new.username)
    if created is None or created.has_password:
        # Never hand an existing local account to an upstream login by its name.
        raise UpstreamError(f"username {new.username[:80]!r} belongs to a local user")
    return created


def _new_user(uow: UnitOfWork, ctx: AppContext, provider: UpstreamProvider, subject: str) -> User:
    # The issuer is part of the name: a provider id reused for another issuer never meets the
    # users of the old one.
    issuer = hashlib.sha256(provider.issuer.encode()).hexdigest()[:8]
    username = f"{provider.id}:{issuer}:{subject}"
    if len(username) > _USERNAME_MAX:
        username = f"{provider.id}:{issuer}:{hashlib.sha256(subject.encode()).hexdigest()}"
    kurtid = ctx.random.digits(12)
    while kurtid.startswith("0") or uow.users.kurtid_taken(kurtid):
        kurtid = ctx.random.digits(12)
    return User(
        id=_uuid_of(ctx.random.hex_id(16)),
        username=username,
        password_hash=NO_PASSWORD,
        kurtid=kurtid,
        analytics_uuid=_uuid_of(ctx.random.hex_id(16)),
        tnuids=(_uuid_of(ctx.random.hex_id(16)),),
    )


def _uuid_of(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:32]}"


def profile_changes(
    user: User, provider: UpstreamProvider, claims: Mapping[str, Any]
) -> dict[str, object]:
    """The profile fields the upstream's claims change (SPEC §3 user record).

    Names and birthdate follow the upstream. E-mail and phone number follow it only for users
    it created, and only when verified: a local user's phone number receives their SMS codes,
    so no upstream may change it. IAL only rises (the highest the user has, SPEC §6).
    """
    wanted: dict[str, object] = {}
    ial = _mapped_ial(provider, claims)
    # Who the user is follows an upstream that created them, or one that vouches for them at
    # least as strongly as what they already have; never a weaker one's word.
    if not user.has_password or (ial is not None and ial >= max(user.ial, 1)):
        for name in ("given_name", "family_name"):
            value = _clean_text(claims.get(name), _NAME_MAX)
            if value is not None:
                wanted[name] = value
        birthdate = _birthdate(claims.get("birthdate"))
        if birthdate is not None:
            wanted["birthdate"] = birthdate
    if not user.has_password:
        for field, verified_by in _VERIFIED_BY.items():
            value = _normalised(field, claims.get(field))
            if value is not None and is_verified(claims.get(verified_by)):
                wanted[field] = value
    if ial is not None and ial > user.ial:
        wanted["ial"] = ial
    return {name: value for name, value in wanted.items() if getattr(user, name) != value}


def _birthdate(value: object) -> date | None:
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        # OIDC Core §5.1 lets a provider hide the year as 0000: not a date, so not stored.
        return date.fromisoformat(value)
    except ValueError:
        return None


def _mapped_ial(provider: UpstreamProvider, claims: Mapping[str, Any]) -> int | None:
    if provider.ial_claim is None:
        return None
    value = claims.get(provider.ial_claim)
    return provider.ial_values.get(value) if isinstance(value, str) else None
