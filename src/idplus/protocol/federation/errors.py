"""How an upstream login fails."""

from __future__ import annotations

from enum import StrEnum


class LinkRefusal(StrEnum):
    """Why an upstream account cannot be joined to a local user (each has its own page)."""

    # `--link-by` names a claim the upstream did not send, or sent in an unusable form.
    MISSING = "missing"
    # The upstream does not say it verified the value (`email_verified` / `phone_number_verified`).
    UNVERIFIED = "unverified"
    # More than one local user has the value: idplus cannot tell which one it is.
    AMBIGUOUS = "ambiguous"
    # The local user has a required second factor that an upstream login would skip.
    SECOND_FACTOR = "second_factor"
    # The local user already has another account at this provider (a recycled address?).
    ALREADY_LINKED = "already_linked"
    # The user disconnected this upstream account from their account on the account page.
    DISCONNECTED = "disconnected"
    # An operator locked the local account (protocol/account_lock.py).
    LOCKED = "locked"


class UpstreamError(Exception):
    """The upstream login cannot go on; the message is the reason for the log (never shown).

    `refusal` is set when the upstream login worked but its account cannot be linked: the page
    then tells the user why.
    """

    def __init__(self, reason: str, refusal: LinkRefusal | None = None) -> None:
        super().__init__(reason)
        self.refusal = refusal
