"""What the login state machine asks of an authenticator.

The local password + SMS authenticator is the first; upstream OpenID providers, passkeys and
CIBA out-of-band approval plug in the same way. An authenticator moves the interaction through
its own stages (and saves them), never renders a page, refuses what the user can fix with a
`LoginProblem`, and ends with `Authenticated`: the user and the amr / acr the login earned
(OIDC Core §2). Starting the session and answering the client is the state machine's part.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from idplus.models import UpstreamSessionTokens, User
from idplus.protocol.context import AppContext
from idplus.protocol.login.results import BrowserRedirect
from idplus.protocol.login.state import Inputs, InteractionView


@dataclass(frozen=True, slots=True)
class UpstreamLogin:
    """What a login through an upstream provider leaves with the session."""

    # The user's `sub` at the upstream (`extsub`).
    subject: str
    # Kept to end the session at the upstream too (SPEC §7).
    tokens: UpstreamSessionTokens


@dataclass(frozen=True, slots=True)
class Authenticated:
    user: User
    amr: tuple[str, ...]
    acr: str
    # The login form's "remember me": the session outlives the browser.
    remember_me: bool = False
    upstream: UpstreamLogin | None = None
    # When the user authenticated, if not just now (an upstream's `auth_time`).
    auth_time: datetime | None = None
    # The passkey (`Passkey.id`) that proved the user: the session records it, so removing
    # the passkey ends the session.
    passkey_id: str | None = None


class Authenticator(Protocol):
    def start(self, ctx: AppContext, view: InteractionView) -> InteractionView | BrowserRedirect:
        """Begin a fresh login: save `view.interaction` at the stage that asks the user first
        (or, for an upstream provider, send the browser there)."""
        ...

    def complete(
        self, ctx: AppContext, view: InteractionView, inputs: Inputs
    ) -> InteractionView | Authenticated:
        """Check the answer given at the current stage: the next stage (already started and
        saved), or the proof."""
        ...

    def step_up(self, ctx: AppContext, view: InteractionView) -> InteractionView:
        """A known user must reach a higher level: start the step that raises it."""
        ...

    def resend(self, ctx: AppContext, view: InteractionView) -> InteractionView:
        """Ask again at the current stage (a new code), within the authenticator's limits."""
        ...
