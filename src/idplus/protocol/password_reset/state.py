"""A password reset as the pages see it: loaded once per request, and only by the browser that
started it; which step it is at follows from what it has proved so far."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from urllib.parse import urlencode

from idplus.crypto.hashing import hash_handle
from idplus.models import PasswordReset, User
from idplus.protocol.context import AppContext

RESET_PATH = "/password-reset"
EMAIL_LINK_PATH = "/password-reset/email"
# How long each step may take: the first code, then the new password after each proof.
STEP_LIFETIME = timedelta(minutes=15)
EMAIL_LINK_LIFETIME = timedelta(minutes=30)


class ResetStage(StrEnum):
    """The page a reset is at."""

    # Waiting for the SMS code (always, for a name that belongs to no account).
    CODE = "code"
    # Two factors: the code was right, the link sent to the e-mail address is not used yet.
    EMAIL = "email"
    # Two factors and no e-mail address to send the link to: only customer service can help.
    NO_EMAIL = "no_email"
    NEW_PASSWORD = "new_password"


class ResetProblemReason(StrEnum):
    """Something the user can fix, or must wait out, on the same page."""

    NO_USERNAME = "no_username"
    LOCKED = "locked"
    CODE_INVALID = "code_invalid"
    CODE_EXPIRED = "code_expired"
    CODE_TOO_MANY = "code_too_many"
    # The name's wrong codes across all its resets are spent for the day.
    CODES_SPENT = "codes_spent"
    RESEND_WAIT = "resend_wait"
    RESEND_LIMIT = "resend_limit"
    TOO_SHORT = "too_short"
    # A button this step does not have: a stale page, or a forged form.
    UNKNOWN_ACTION = "unknown_action"


RATE_LIMITED = frozenset(
    {
        ResetProblemReason.LOCKED,
        ResetProblemReason.CODE_TOO_MANY,
        ResetProblemReason.CODES_SPENT,
        ResetProblemReason.RESEND_WAIT,
        ResetProblemReason.RESEND_LIMIT,
    }
)


class ResetProblem(Exception):
    def __init__(self, reason: ResetProblemReason, *, retry_after_minutes: int = 0) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.retry_after_minutes = retry_after_minutes


class ResetGone(Exception):
    """Unknown, expired, finished, or started in another browser (the reason is for the log)."""


@dataclass(frozen=True, slots=True)
class ResetView:
    handle: str
    reset: PasswordReset
    # The account being reset; None when the name given belongs to none.
    user: User | None
    # The browser that started the reset (and loaded it now).
    browser_id: str

    @property
    def stage(self) -> ResetStage:
        reset, user = self.reset, self.user
        if user is None or reset.code_verified_at is None:
            return ResetStage.CODE
        if user.otp_required and reset.email_confirmed_at is None:
            # The link goes out with the right code, to an account that has an address.
            return ResetStage.EMAIL if reset.email_token_hash is not None else ResetStage.NO_EMAIL
        return ResetStage.NEW_PASSWORD


def reset_handle_hash(key: bytes, handle: str) -> str:
    return hash_handle(key, f"reset:{handle}")


def email_token_hash(key: bytes, token: str) -> str:
    return hash_handle(key, f"reset-email:{token}")


def name_hash(key: bytes, name: str) -> str:
    return hash_handle(key, f"reset-name:{name}")


def login_hash(key: bytes, interaction: str) -> str:
    return hash_handle(key, f"reset-login:{interaction}")


def browser_hash(key: bytes, browser_id: str) -> str:
    # The same binding as a login in progress (protocol/login/state.py).
    return hash_handle(key, f"browser:{browser_id}")


def load_reset(ctx: AppContext, handle: str, browser_id: str) -> ResetView:
    """Raises ResetGone; the handle and browser id are compared only as HMACs."""
    key, now = ctx.secrets.handle_key, ctx.clock.now()
    if not handle:
        raise ResetGone("no handle")
    with ctx.store.reading() as uow:
        reset = uow.password_resets.find_by_handle(reset_handle_hash(key, handle))
        if reset is None or reset.expires_at <= now:
            raise ResetGone("unknown or expired")
        if reset.browser_hash != browser_hash(key, browser_id):
            raise ResetGone("started in another browser")
        # Looked up for a reset of nobody too: the same statements, the same time.
        user = uow.users.find(reset.user_id or "")
    return ResetView(handle, reset, user, browser_id)


def reset_start_url(interaction: str, locale: str) -> str:
    """The start of a reset, from the login `interaction` (empty: from nowhere)."""
    query = {"interaction": interaction, "locale": locale} if interaction else {"locale": locale}
    return f"{RESET_PATH}?{urlencode(query)}"
