"""A login in progress as the state machine sees it: loaded once per request, and only by the
browser that started it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from idplus.crypto.hashing import hash_handle
from idplus.models import Client, Interaction, User
from idplus.protocol.context import AppContext
from idplus.protocol.interaction import Stage
from idplus.store.base import UnitOfWork

_STAGES = frozenset(stage.value for stage in Stage)


class InteractionGone(Exception):
    """Unknown, expired, finished, or started in another browser."""


@dataclass(frozen=True, slots=True)
class InteractionView:
    """The pending request, its client, and the user once known."""

    handle: str
    interaction: Interaction
    client: Client
    user: User | None

    @property
    def stage(self) -> Stage:
        return Stage(self.interaction.stage)


def load_interaction(ctx: AppContext, handle: str, browser_id: str) -> InteractionView:
    """Raises InteractionGone; the handle and browser id are compared only as HMACs."""
    key, now = ctx.secrets.handle_key, ctx.clock.now()
    with ctx.store.reading() as uow:
        interaction = uow.interactions.find(hash_handle(key, handle))
        if interaction is None or interaction.expires_at <= now:
            raise InteractionGone("unknown or expired")
        if interaction.browser_hash != hash_handle(key, f"browser:{browser_id}"):
            raise InteractionGone("started in another browser")
        if interaction.stage not in _STAGES:
            raise InteractionGone(f"unknown stage {interaction.stage!r}")
        client = uow.clients.find(interaction.client_id)
        if client is None:
            raise InteractionGone("client removed")
        user = uow.users.find(interaction.user_id) if interaction.user_id else None
    return InteractionView(handle, interaction, client, user)


def save_progress(
    uow: UnitOfWork, view: InteractionView, interaction: Interaction, user: User | None
) -> InteractionView:
    """Store where the login now stands (never its one-time-code counters)."""
    uow.interactions.save(interaction)
    return replace(view, interaction=interaction, user=user)


@dataclass(frozen=True, slots=True)
class Inputs:
    """What the user sent with an action: the form's fields, the address it came from, and
    its User-Agent header (a login that opens a session keeps it to name the browser)."""

    fields: Mapping[str, str]
    address: str | None = None
    user_agent: str | None = None

    def get(self, name: str) -> str:
        return self.fields.get(name, "")
