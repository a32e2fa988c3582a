"""What a set of tokens is about: the client, the scopes, and — for user grants — the login."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from idplus.models import Client, User


@dataclass(frozen=True, slots=True)
class Grant:
    client: Client
    scopes: tuple[str, ...]
    # None for client_credentials: the client acts for itself.
    user: User | None = None
    session_id: str | None = None
    auth_time: datetime | None = None
    acr: str | None = None
    amr: tuple[str, ...] = ()
    idp: str | None = None
    # The user's `sub` at the upstream provider the session's login came from (`extsub`).
    extsub: str | None = None
    # The account profile the tokens speak for (legacy token exchange may switch it).
    tnuid: str | None = None
    nonce: str | None = None
    preferred_username: str | None = None
    # The authorization (a code, a gateway password grant) the tokens come from, so a replayed
    # code or a reused refresh token can find every token it led to, on either front.
    grant_id: str | None = None

    @property
    def profile(self) -> str | None:
        if self.tnuid is not None:
            return self.tnuid
        return self.user.tnuids[0] if self.user is not None and self.user.tnuids else None
