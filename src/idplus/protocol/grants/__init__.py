"""One module per token-endpoint grant; each takes the authenticated client and the params."""

from __future__ import annotations

from collections.abc import Callable

from idplus.errors import InvalidRequest, OAuthError
from idplus.protocol.context import AppContext
from idplus.protocol.issuance import TokenResponse
from idplus.protocol.params import Params
from idplus.store.base import UnitOfWork


def required(params: Params, name: str) -> str:
    value = params.get(name)
    if value is None:
        raise InvalidRequest(f"{name} is required")
    return value


def committed_outcome(
    ctx: AppContext, work: Callable[[UnitOfWork], TokenResponse | OAuthError]
) -> TokenResponse:
    """Run a grant in one transaction that commits even when a check fails — a code or a
    rotated token stays used, a reuse stays revoked, a poll stays counted — and raise the
    failure only afterwards."""
    with ctx.store.transaction() as uow:
        outcome = work(uow)
    if isinstance(outcome, OAuthError):
        raise outcome
    return outcome
