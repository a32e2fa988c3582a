"""User accounts: registration with generated identifiers, lookup, password changes."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from idplus.clock import Clock
from idplus.crypto.hashing import hash_password
from idplus.errors import NotFoundError, ValidationError
from idplus.identifiers import normalise_email, normalise_phone_number, normalise_username
from idplus.manage.access import refuse_last_operator
from idplus.manage.companies import refuse_last_admin
from idplus.models import AuditEvent, User
from idplus.store.base import Store

MIN_PASSWORD_LENGTH = 8
IAL_LEVELS = range(0, 4)


@dataclass(frozen=True, slots=True)
class UserRegistration:
    username: str
    password: str
    phone_number: str | None = None
    email: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    birthdate: str | None = None
    ial: int = 0
    kurtid: str | None = None
    tnuids: Sequence[str] = ()
    otp_required: bool = False


def build_user(reg: UserRegistration) -> User:
    """Validate and normalise a registration; hashing the password is the slow part."""
    username = normalise_username(reg.username)
    if len(reg.password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"a password must be at least {MIN_PASSWORD_LENGTH} characters")
    if reg.ial not in IAL_LEVELS:
        raise ValidationError("ial must be 0, 1, 2 or 3")
    phone = normalise_phone_number(reg.phone_number) if reg.phone_number else None
    if phone is None and username.startswith("+"):
        phone = username
    email = normalise_email(reg.email) if reg.email else None
    if email is None and "@" in username:
        email = username
    if reg.otp_required and phone is None:
        raise ValidationError("--otp needs a phone number to send the code to")
    tnuids = tuple(dict.fromkeys(t.strip() for t in reg.tnuids if t.strip()))
    return User(
        id=str(uuid.uuid4()),
        username=username,
        password_hash=hash_password(reg.password),
        kurtid=reg.kurtid.strip() if reg.kurtid else _new_kurtid(),
        analytics_uuid=str(uuid.uuid4()),
        tnuids=tnuids or (str(uuid.uuid4()),),
        ial=reg.ial,
        otp_required=reg.otp_required,
        phone_number=phone,
        email=email,
        given_name=reg.given_name,
        family_name=reg.family_name,
        birthdate=_parse_birthdate(reg.birthdate),
    )


def _new_kurtid() -> str:
    # Customer numbers are digits; 12 random digits make a collision practically impossible.
    return str(secrets.randbelow(9 * 10**11) + 10**11)


def _parse_birthdate(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"birthdate {value!r} is not a YYYY-MM-DD date") from None


def add_user(store: Store, clock: Clock, reg: UserRegistration) -> User:
    # "Already exists" is the answer that helps, whatever else is wrong with the registration;
    # the check in the transaction below is the one that holds against a concurrent add.
    _refuse_taken_username(store, normalise_username(reg.username))
    user = build_user(reg)
    with store.transaction() as uow:
        if uow.users.username_taken(user.username):
            raise ValidationError(f"user {user.username!r} already exists")
        if uow.users.kurtid_taken(user.kurtid):
            raise ValidationError(f"kurtid {user.kurtid!r} belongs to another user")
        taken = uow.users.taken_tnuids(list(user.tnuids))
        if taken:
            raise ValidationError(f"tnuid {', '.join(taken)} belongs to another user")
        uow.users.insert(user, clock.now())
        uow.audit.record(AuditEvent("user.added", clock.now(), user_id=user.id))
    return user


def _refuse_taken_username(store: Store, username: str) -> None:
    with store.reading() as uow:
        if uow.users.username_taken(username):
            raise ValidationError(f"user {username!r} already exists")


def get_user(store: Store, username: str) -> User:
    try:
        normalised = normalise_username(username)
    except ValidationError:
        raise NotFoundError(f"unknown user {username!r}") from None
    with store.reading() as uow:
        user = uow.users.find_by_username(normalised)
    if user is None:
        raise NotFoundError(f"unknown user {username!r}")
    return user


def remove_user(store: Store, clock: Clock, username: str) -> None:
    """Never the last operator, nor a company's last admin (Conflict): the hub or the company
    would have nobody to run it."""
    user = get_user(store, username)
    with store.transaction() as uow:
        refuse_last_operator(uow, user.id, user.username, "remove")
        refuse_last_admin(uow, user.id, user.username, "remove")
        uow.users.delete(user.id)
        uow.audit.record(AuditEvent("user.removed", clock.now(), user_id=user.id))


def set_password(store: Store, clock: Clock, username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"a password must be at least {MIN_PASSWORD_LENGTH} characters")
    user = get_user(store, username)
    now = clock.now()
    with store.transaction() as uow:
        uow.users.set_password_hash(user.id, hash_password(password), now)
        # The way out for a user customer service helps: a reset someone else got past the
        # SMS step of must not set a password over this one, nor keep a gateway token.
        uow.password_resets.delete_of_user(user.id)
        uow.gateway_tokens.revoke_user(user.id, now)
        uow.audit.record(AuditEvent("user.password_set", now, user_id=user.id))


def describe_user(user: User) -> dict[str, Any]:
    """The operator's view of a user: everything but the password hash."""
    return {
        "id": user.id,
        "username": user.username,
        "kurtid": user.kurtid,
        "tnuid": list(user.tnuids),
        "analytics_uuid": user.analytics_uuid,
        "ial": user.ial,
        "otp": user.otp_required,
        "phone_number": user.phone_number,
        "email": user.email,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "birthdate": user.birthdate.isoformat() if user.birthdate else None,
    }
