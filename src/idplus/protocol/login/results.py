"""What one step of a login comes to, for the pages to render: a page to show, a problem to show
on the same page, the finished login, or the end of a login that cannot go on."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from idplus.auth.local import mask_phone_number
from idplus.models import Client, SsoSession
from idplus.policies import ClientType
from idplus.protocol.authorization_response import AuthorizationResponse
from idplus.protocol.context import AppContext
from idplus.protocol.device import user_code_returned_to
from idplus.protocol.federation.errors import LinkRefusal
from idplus.protocol.interaction import Stage
from idplus.protocol.login.state import InteractionView
from idplus.protocol.user_names import display_name


class ProblemReason(StrEnum):
    """Something the user can fix, or must wait out, on the same page."""

    INVALID_CREDENTIALS = "invalid_credentials"
    LOCKED = "locked"
    # An operator locked the account (protocol/account_lock.py); said only once it is proved.
    ACCOUNT_LOCKED = "account_locked"
    OTP_INVALID = "otp_invalid"
    OTP_EXPIRED = "otp_expired"
    OTP_TOO_MANY = "otp_too_many"
    OTP_RESEND_WAIT = "otp_resend_wait"
    OTP_RESEND_LIMIT = "otp_resend_limit"
    SMS_LIMIT = "sms_limit"
    NO_PHONE = "no_phone"
    # The request asks for level 3: only a hardware-attested, device-bound passkey reaches it.
    PASSKEY_REQUIRED = "passkey_required"
    UNKNOWN_PROVIDER = "unknown_provider"
    # A button this stage does not have: a stale page from an earlier step, or a forged form.
    UNKNOWN_ACTION = "unknown_action"


class LoginProblem(Exception):
    """Raised by a step; `advance` turns it into a `Problem` on the page the login is at."""

    def __init__(self, reason: ProblemReason, *, retry_after_minutes: int = 0) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.retry_after_minutes = retry_after_minutes


@dataclass(frozen=True, slots=True)
class ProviderChoice:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Page:
    """A login page: the stage it shows and everything it displays."""

    handle: str
    stage: Stage
    locale: str
    client_name: str
    offer_remember_me: bool
    login_hint: str
    # The session's user, as the page names them ("Log in again as …", "Continue as …").
    user_name: str
    # Their username: only the value of a re-login's username field, never shown as a name.
    username: str
    # Only the ends of the number: enough to recognise it, too little to learn it.
    masked_phone: str
    providers: tuple[ProviderChoice, ...]
    # The display name of the provider the login uses, once one is chosen.
    provider_name: str = ""
    # The user code when the device verification page started this login.
    device_user_code: str | None = None
    # The SMS code pages (after the password, a step-up): whether the user has a passkey to
    # use instead, so the page offers one only then.
    user_has_passkeys: bool = False


@dataclass(frozen=True, slots=True)
class ShowPage:
    page: Page


@dataclass(frozen=True, slots=True)
class Problem:
    page: Page
    reason: ProblemReason
    retry_after_minutes: int = 0


@dataclass(frozen=True, slots=True)
class LoginFinished:
    """The login is done. `session_handle` is set when it (re)authenticated the session: the
    browser gets a new SSO cookie, and a new browser cookie, so nothing fixed before survives."""

    response: AuthorizationResponse
    session: SsoSession
    group: str
    session_handle: str | None = None


@dataclass(frozen=True, slots=True)
class Cancelled:
    """The user gave up: `access_denied` for the client."""

    response: AuthorizationResponse


@dataclass(frozen=True, slots=True)
class Gone:
    """Unknown, expired, finished, or another browser's login; `reason` is for the log."""

    reason: str


@dataclass(frozen=True, slots=True)
class Busy:
    """Every password-hashing slot is taken: try again in a moment (nothing was spent).
    `client` is the app the login is for, for the way back to it."""

    locale: str
    client: Client | None = None


@dataclass(frozen=True, slots=True)
class BrowserRedirect:
    """Send the browser elsewhere (an upstream provider's authorization endpoint)."""

    url: str


@dataclass(frozen=True, slots=True)
class UpstreamFailed:
    """An upstream login that cannot go on: the upstream is down or answered something
    unusable, or its callback does not match a login in progress. `reason` is for the log.
    `locale` and `client` are the login's; a callback that matches no login has neither, and
    the page follows its own language rule."""

    reason: str
    locale: str | None = None
    client: Client | None = None
    # Set when the upstream login worked but its account cannot be linked (shown to the user).
    refusal: LinkRefusal | None = None


StepResult = (
    ShowPage | Problem | LoginFinished | Cancelled | Gone | Busy | BrowserRedirect | UpstreamFailed
)


def page_of(ctx: AppContext, view: InteractionView) -> Page:
    request, client, user = view.interaction.request, view.client, view.user
    locale = request.ui_locale
    phone = user.phone_number if user is not None else None
    chosen = ctx.providers.get(view.interaction.provider or "")
    return Page(
        handle=view.handle,
        stage=view.stage,
        locale=locale,
        client_name=client.name,
        offer_remember_me=client.client_type is not ClientType.MOBILE_APP,
        login_hint=request.login_hint or "",
        user_name=display_name(user) if user is not None else "",
        username=user.username if user is not None else "",
        masked_phone=mask_phone_number(phone) if phone else "",
        providers=tuple(
            ProviderChoice(p.id, p.display_name(locale))
            for p in ctx.providers.for_client(client, request.requested_aal)
        ),
        provider_name=chosen.display_name(locale) if chosen is not None else "",
        device_user_code=user_code_returned_to(request.return_to),
        user_has_passkeys=_has_passkeys(ctx, view),
    )


def _has_passkeys(ctx: AppContext, view: InteractionView) -> bool:
    if view.user is None or view.stage not in (Stage.OTP, Stage.STEP_UP):
        return False
    with ctx.store.reading() as uow:
        return bool(uow.passkeys.list_for_user(view.user.id))
