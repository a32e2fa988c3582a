"""The one-time link a two-factor account's reset sends to its e-mail address (30 minutes).

Opening the link (GET) only shows a button: mail scanners that fetch links use nothing. The
button's POST uses the link once, from the browser that started the reset, and gives the
reset a new handle: the reset goes on in the tab the link opened, and in no other.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from idplus.protocol.context import AppContext
from idplus.protocol.password_reset.state import (
    STEP_LIFETIME,
    browser_hash,
    email_token_hash,
    reset_handle_hash,
)


class LinkState(StrEnum):
    USABLE = "usable"
    # Opened in a browser other than the one that asked for the reset.
    OTHER_BROWSER = "other_browser"
    # Unknown, used, expired, or its reset finished.
    GONE = "gone"


@dataclass(frozen=True, slots=True)
class LinkCheck:
    state: LinkState
    locale: str = "en"


def check_link(ctx: AppContext, token: str, browser_id: str | None) -> LinkCheck:
    key, now = ctx.secrets.handle_key, ctx.clock.now()
    if not token:
        return LinkCheck(LinkState.GONE)
    with ctx.store.reading() as uow:
        reset = uow.password_resets.find_by_email_token(email_token_hash(key, token))
    if reset is None or reset.email_confirmed_at is not None:
        return LinkCheck(LinkState.GONE)
    if reset.email_expires_at is None or reset.email_expires_at <= now:
        return LinkCheck(LinkState.GONE, reset.locale)
    if browser_id is None or reset.browser_hash != browser_hash(key, browser_id):
        return LinkCheck(LinkState.OTHER_BROWSER, reset.locale)
    return LinkCheck(LinkState.USABLE, reset.locale)


@dataclass(frozen=True, slots=True)
class LinkUsed:
    # The reset's new handle: it goes on in the tab the link opened.
    handle: str
    locale: str


def use_link(ctx: AppContext, token: str, browser_id: str | None) -> LinkUsed | LinkCheck:
    """The reset with a new handle; otherwise why the link cannot be used."""
    key, now = ctx.secrets.handle_key, ctx.clock.now()
    if not token or browser_id is None:
        return check_link(ctx, token, browser_id)
    handle, token_hash = ctx.random.handle(32), email_token_hash(key, token)
    with ctx.store.transaction() as uow:
        used = uow.password_resets.confirm_email(
            token_hash,
            browser_hash=browser_hash(key, browser_id),
            new_handle_hash=reset_handle_hash(key, handle),
            now=now,
            expires_at=now + STEP_LIFETIME,
        )
        reset = uow.password_resets.find_by_email_token(token_hash) if used else None
    if reset is None:
        return check_link(ctx, token, browser_id)
    return LinkUsed(handle, reset.locale)
