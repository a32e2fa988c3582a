"""WebAuthn challenges (WebAuthn Level 3 §13.4.3): random, single-use, bound to what asked.

A challenge is 32 random bytes, stored only as an HMAC under the server's handle key, with its
purpose and a binding: the login in progress (the HMAC of its interaction handle) for a login,
the account page's SSO session for a registration. A new challenge replaces the earlier one of
the same binding, so a login has one live challenge and rows stay bounded. Using one is a
single DELETE … RETURNING that also checks purpose, binding and expiry: a challenge answers
once, even to parallel verifies, and never for another login.

The verify steps run in `run_consuming`: the unit of work commits even when the response is
refused, so a challenge that was answered wrongly is used up as well.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from idplus.crypto.hashing import hash_handle
from idplus.models import WebAuthnChallenge
from idplus.protocol.context import AppContext
from idplus.protocol.passkeys.errors import PasskeyProblem, PasskeyProblemReason
from idplus.store.base import UnitOfWork

T = TypeVar("T")
CHALLENGE_BYTES = 32


class Purpose(StrEnum):
    REGISTER = "register"
    LOGIN = "login"


def login_binding(ctx: AppContext, interaction_id_hash: str) -> str:
    return hash_handle(ctx.secrets.handle_key, f"webauthn-login:{interaction_id_hash}")


def registration_binding(ctx: AppContext, session_id: str) -> str:
    return hash_handle(ctx.secrets.handle_key, f"webauthn-register:{session_id}")


def _id_hash(ctx: AppContext, challenge: bytes) -> str:
    return hash_handle(
        ctx.secrets.handle_key, f"webauthn-challenge:{bytes_to_base64url(challenge)}"
    )


def issue_challenge(
    ctx: AppContext,
    uow: UnitOfWork,
    *,
    purpose: Purpose,
    binding_hash: str,
    user_id: str | None,
    expires_at: datetime,
) -> bytes:
    """A new challenge, replacing the binding's earlier one; the bytes go to the browser."""
    challenge = base64url_to_bytes(ctx.random.handle(CHALLENGE_BYTES))
    uow.webauthn_challenges.replace(
        WebAuthnChallenge(
            id_hash=_id_hash(ctx, challenge),
            purpose=purpose.value,
            binding_hash=binding_hash,
            expires_at=expires_at,
            user_id=user_id,
        )
    )
    return challenge


def consume_challenge(
    ctx: AppContext, uow: UnitOfWork, challenge: bytes, *, purpose: Purpose, binding_hash: str
) -> WebAuthnChallenge:
    """Use the challenge the response answers; raises CHALLENGE_UNKNOWN when it is unknown,
    expired, used already, or bound to another login or session."""
    used = uow.webauthn_challenges.consume(
        _id_hash(ctx, challenge),
        purpose=purpose.value,
        binding_hash=binding_hash,
        now=ctx.clock.now(),
    )
    if used is None:
        raise PasskeyProblem(
            PasskeyProblemReason.CHALLENGE_UNKNOWN,
            f"no live {purpose.value} challenge of this binding",
        )
    return used


def run_consuming(ctx: AppContext, step: Callable[[UnitOfWork], T]) -> T:
    """Run `step` in one unit of work that commits even when it raises PasskeyProblem, so the
    challenge it consumed stays consumed; any other exception rolls everything back."""
    with ctx.store.transaction() as uow:
        try:
            return step(uow)
        except PasskeyProblem as exc:
            refused = exc
    raise refused
