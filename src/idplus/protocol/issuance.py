"""Minting and persisting what a grant earns: access token, ID token, refresh token.

Only hashes of refresh tokens are stored; access and ID tokens are signed JWTs and are not
stored at all (a revoked access token's jti goes to the revocation list instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from idplus.crypto.hashing import hash_handle
from idplus.crypto.keys import KeyRing
from idplus.models import RefreshToken
from idplus.policies import GRANT_REFRESH_TOKEN, RefreshPolicy
from idplus.protocol.access_token import mint_access_token, subject_of
from idplus.protocol.context import AppContext
from idplus.protocol.grant import Grant
from idplus.protocol.oidc.id_token import mint_id_token
from idplus.randomness import Randomness
from idplus.store.base import UnitOfWork


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """RFC 6749 §5.1 plus the OIDC id_token; `access_token_jti` stays on the server."""

    access_token: str
    expires_in: int
    scope: tuple[str, ...]
    access_token_jti: str
    access_token_expires_at: datetime
    id_token: str | None = None
    refresh_token: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": " ".join(self.scope),
        }
        if self.id_token is not None:
            body["id_token"] = self.id_token
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


@dataclass(frozen=True, slots=True)
class RefreshLineage:
    """Where a new refresh token sits: a new family (login) or a rotation of a parent."""

    family_id: str
    parent_id: str | None = None
    # Fixed policies keep the instant the family dies; sliding ones start afresh.
    absolute_expires_at: datetime | None = None


def issue_tokens(
    ctx: AppContext,
    ring: KeyRing,
    grant: Grant,
    now: datetime,
    *,
    uow: UnitOfWork | None = None,
    lineage: RefreshLineage | None = None,
) -> TokenResponse:
    client, settings = grant.client, ctx.settings
    lifetime = client.access_token_lifetime or settings.access_token_lifetime
    access = mint_access_token(
        grant,
        ring,
        issuer=settings.issuer,
        pairwise_salt=ctx.secrets.pairwise_salt,
        now=now,
        lifetime=lifetime,
        random=ctx.random,
    )
    id_token = None
    if grant.user is not None and "openid" in grant.scopes:
        id_token = mint_id_token(
            grant,
            ring,
            issuer=settings.issuer,
            subject=subject_of(grant, ctx.secrets.pairwise_salt),
            now=now,
            lifetime=client.id_token_lifetime or settings.id_token_lifetime,
            access_token=access.token,
        )
    refresh_token = None
    if uow is not None and lineage is not None and earns_refresh_token(grant):
        refresh_token = _issue_refresh_token(uow, ctx, grant, now, lineage)
    return TokenResponse(
        access_token=access.token,
        expires_in=access.lifetime,
        scope=grant.scopes,
        access_token_jti=access.jti,
        access_token_expires_at=access.expires_at,
        id_token=id_token,
        refresh_token=refresh_token,
    )


def earns_refresh_token(grant: Grant) -> bool:
    """SPEC §2: the client's policy issues them, the client may refresh, offline_access asked."""
    client = grant.client
    return (
        grant.user is not None
        and client.rules.refresh_policy.issues_refresh_token
        and GRANT_REFRESH_TOKEN in client.grant_types
        and "offline_access" in grant.scopes
    )


def new_lineage(random: Randomness) -> RefreshLineage:
    return RefreshLineage(family_id=random.hex_id())


def refresh_expiry(
    policy: RefreshPolicy, grant: Grant, now: datetime, lineage: RefreshLineage
) -> datetime:
    if policy.sliding:
        return now + policy.lifetime
    if lineage.absolute_expires_at is not None:
        return lineage.absolute_expires_at
    return (grant.auth_time or now) + policy.lifetime


def _issue_refresh_token(
    uow: UnitOfWork, ctx: AppContext, grant: Grant, now: datetime, lineage: RefreshLineage
) -> str:
    assert grant.user is not None
    policy = grant.client.rules.refresh_policy
    handle = ctx.random.handle(32)
    expires_at = refresh_expiry(policy, grant, now, lineage)
    uow.refresh_tokens.insert(
        RefreshToken(
            id=ctx.random.hex_id(),
            token_hash=hash_handle(ctx.secrets.handle_key, handle),
            family_id=lineage.family_id,
            parent_id=lineage.parent_id,
            grant_id=grant.grant_id,
            client_id=grant.client.client_id,
            user_id=grant.user.id,
            session_id=grant.session_id,
            scopes=grant.scopes,
            policy=policy.name.value,
            issued_at=now,
            expires_at=expires_at,
            absolute_expires_at=expires_at,
            auth_time=grant.auth_time,
            acr=grant.acr,
            amr=grant.amr,
            idp=grant.idp,
            tnuid=grant.tnuid,
        ),
    )
    return handle
