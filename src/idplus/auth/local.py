"""The local provider: username + password, and a one-time SMS code as second factor."""

from __future__ import annotations

import secrets
import unicodedata
from datetime import datetime, timedelta

from idplus.auth.sender import Message, Sender
from idplus.auth.sms_texts import login_code_sms
from idplus.crypto.hashing import hash_handle, hash_password, verify_password
from idplus.errors import ValidationError
from idplus.identifiers import normalise_username
from idplus.metrics import SmsPurpose
from idplus.models import Client, User
from idplus.randomness import Randomness
from idplus.store.base import UnitOfWork

OTP_DIGITS = 6
OTP_LIFETIME = timedelta(minutes=5)
# Control characters and lone surrogates (which no database encoding takes).
_CONTROL = frozenset({"Cc", "Cs"})
# Verified against when the username is unknown, so both answers take as long.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


# An e-mail address is at most 320 characters (RFC 5321 §4.5.3.1); anything longer is no
# username, and would not fit the throttle's key column.
MAX_USERNAME_LENGTH = 320


def canonical_username(raw: str) -> str:
    """The form a username is stored and throttled under; raw input when it is no username,
    and "" (no username at all) when it holds a control character: no name has one, and a
    NUL cannot even be sent to PostgreSQL."""
    text = raw.strip()
    if len(text) > MAX_USERNAME_LENGTH:
        return ""
    if any(unicodedata.category(character) in _CONTROL for character in text):
        return ""
    try:
        return normalise_username(text)
    except ValidationError:
        return text.lower()


def find_user_for_login(uow: UnitOfWork, username: str) -> User | None:
    return uow.users.find_by_username(username)


def password_matches(user: User | None, password: str) -> bool:
    """argon2id verification (slow on purpose: call it off the event loop)."""
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return False
    return verify_password(user.password_hash, password)


def new_otp(*, random: Randomness) -> str:
    return random.digits(OTP_DIGITS)


def hash_otp(key: bytes, interaction_hash: str, code: str) -> str:
    # Bound to the interaction, so a code is only good for the login that asked for it.
    return hash_handle(key, f"otp:{interaction_hash}:{code}")


def send_otp(
    sender: Sender,
    phone_number: str,
    code: str,
    locale: str,
    now: datetime,
    *,
    client: Client,
    issuer: str,
) -> None:
    """The login code by SMS, naming the app it is for (the text: sms_texts.py)."""
    body = login_code_sms(code, locale, client=client, issuer=issuer, valid_for=OTP_LIFETIME)
    sender.send(Message(phone_number, "sms", body, now, code=code, purpose=SmsPurpose.LOGIN_CODE))


def mask_phone_number(phone_number: str) -> str:
    return phone_number[:3] + " ••• •• " + phone_number[-3:]


def mask_email(email: str) -> str:
    """The first letter and the domain: enough for its owner to recognise, little for others."""
    local_part, at, domain = email.rpartition("@")
    if not at or not local_part:
        return email[:1] + "•••"
    return f"{local_part[:1]}•••@{domain}"
