"""The one issuance step of both token fronts: access token, ID token, refresh token.

The access token's format is the front's strategy: a signed JWT (RFC 9068) on /connect, never
stored (a revoked one's jti goes on the revocation list); an opaque reference token on
/oauth/v2 (SPEC §9), 256 random bits kept only as an HMAC beside the authorization it came
from, so it can be invalidated. Refresh tokens of both fronts are HMAC-stored rows of
refresh_tokens with the same families; each row names the front that accepts it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from idplus.crypto.hashing import hash_handle
from idplus.crypto.keys import KeyRing
from idplus.models import GatewayToken, RefreshToken
from idplus.policies import GRANT_REFRESH_TOKEN, RefreshPolicy
from idplus.protocol.access_token import mint_access_token, subject_of
from idplus.protocol.context import AppContext
from idplus.protocol.grant import Grant
from idplus.protocol.oidc.id_token import mint_id_token
from idplus.randomness import Randomness
from idplus.store.base import UnitOfWork

CONNECT = "connect"
GATEWAY = "gateway"
# SPEC §9: the gateway's access tokens live one second less than an hour.
REFERENCE_TOKEN_SECONDS = 3599


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """RFC 6749 §5.1 plus the OIDC id_token; `access_token_jti` stays on the server."""

    access_token: str
    expires_in: int
    scope: tuple[str, ...]
    # The JWT's id, for a replayed code to revoke; None for reference tokens (their row is
    # revoked by its grant id instead).
    access_token_jti: str | None
    access_token_expires_at: datetime
    id_token: str | None = None
    refresh_token: str | None = None
    # RFC 8693 §2.2.1: what a token exchange issued.
    issued_token_type: str | None = None
    # RFC 9449 §5: "DPoP" when the access token is bound to the key of the request's proof.
    token_type: str = "Bearer"

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "scope": " ".join(self.scope),
        }
        if self.id_token is not None:
            body["id_token"] = self.id_token
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        if self.issued_token_type is not None:
            body["issued_token_type"] = self.issued_token_type
        return body


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    lifetime: int
    expires_at: datetime
    jti: str | None


class TokenFormat(ABC):
    """How a front's tokens look: the strategy the one issuance step is given."""

    # The front whose token endpoint alone accepts the refresh tokens issued beside them.
    front: ClassVar[str]
    # True when issuing an access token writes to the store (no store-free fast path then).
    stores_access_tokens: ClassVar[bool]
    # RFC 9449: the thumbprint of the DPoP key the request proved possession of; the access
    # token is bound to it (cnf.jkt), and so is a public client's refresh token.
    dpop_jkt: str | None

    @abstractmethod
    def access_token(
        self, ctx: AppContext, grant: Grant, now: datetime, uow: UnitOfWork | None
    ) -> AccessToken: ...

    @abstractmethod
    def id_token(
        self, ctx: AppContext, grant: Grant, now: datetime, access: AccessToken
    ) -> str | None: ...


@dataclass(frozen=True, slots=True)
class JwtAccessTokens(TokenFormat):
    """/connect: RS256 JWT access tokens (typ at+jwt) and OIDC ID tokens."""

    ring: KeyRing
    dpop_jkt: str | None = None
    front: ClassVar[str] = CONNECT
    stores_access_tokens: ClassVar[bool] = False

    def access_token(
        self, ctx: AppContext, grant: Grant, now: datetime, uow: UnitOfWork | None
    ) -> AccessToken:
        settings = ctx.settings
        minted = mint_access_token(
            grant,
            self.ring,
            issuer=settings.issuer,
            pairwise_salt=ctx.secrets.pairwise_salt,
            now=now,
            lifetime=grant.client.access_token_lifetime or settings.access_token_lifetime,
            random=ctx.random,
            dpop_jkt=self.dpop_jkt,
        )
        return AccessToken(minted.token, minted.lifetime, minted.expires_at, minted.jti)

    def id_token(
        self, ctx: AppContext, grant: Grant, now: datetime, access: AccessToken
    ) -> str | None:
        if grant.user is None or "openid" not in grant.scopes:
            return None
        settings = ctx.settings
        return mint_id_token(
            grant,
            self.ring,
            issuer=settings.issuer,
            subject=subject_of(grant, ctx.secrets.pairwise_salt),
            now=now,
            lifetime=grant.client.id_token_lifetime or settings.id_token_lifetime,
            access_token=access.token,
        )


@dataclass(frozen=True, slots=True)
class ReferenceAccessTokens(TokenFormat):
    """/oauth/v2: opaque reference access tokens (gateway_tokens, kind "access"); no ID token."""

    # The gateway's partners present reference tokens as Bearer tokens only (SPEC §9).
    dpop_jkt: None = None
    front: ClassVar[str] = GATEWAY
    stores_access_tokens: ClassVar[bool] = True

    def access_token(
        self, ctx: AppContext, grant: Grant, now: datetime, uow: UnitOfWork | None
    ) -> AccessToken:
        if uow is None:
            raise RuntimeError("reference tokens are stored: issue them in a unit of work")
        handle = ctx.random.handle(32)
        expires_at = now + timedelta(seconds=REFERENCE_TOKEN_SECONDS)
        uow.gateway_tokens.insert(
            GatewayToken(
                token_hash=hash_handle(ctx.secrets.handle_key, handle),
                kind="access",
                client_id=grant.client.client_id,
                user_id=grant.user.id if grant.user is not None else None,
                scopes=grant.scopes,
                created_at=now,
                expires_at=expires_at,
                grant_id=grant.grant_id,
            )
        )
        return AccessToken(handle, REFERENCE_TOKEN_SECONDS, expires_at, None)

    def id_token(
        self, ctx: AppContext, grant: Grant, now: datetime, access: AccessToken
    ) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class RefreshLineage:
    """Where a new refresh token sits: a new family (login) or a rotation of a parent."""

    family_id: str
    parent_id: str | None = None
    # Fixed policies keep the instant the family dies; sliding ones start afresh.
    absolute_expires_at: datetime | None = None


def issue_tokens(
    ctx: AppContext,
    tokens: TokenFormat,
    grant: Grant,
    now: datetime,
    *,
    uow: UnitOfWork | None = None,
    lineage: RefreshLineage | None = None,
) -> TokenResponse:
    """Everything a validated grant earns, in the front's format. A refresh token only with a
    lineage (a rotation, or a new family) and only when the grant earns one."""
    access = tokens.access_token(ctx, grant, now, uow)
    refresh_token = None
    if uow is not None and lineage is not None and earns_refresh_token(grant, tokens.front):
        refresh_token = _issue_refresh_token(uow, ctx, tokens, grant, now, lineage)
    return TokenResponse(
        access_token=access.token,
        expires_in=access.lifetime,
        scope=grant.scopes,
        access_token_jti=access.jti,
        access_token_expires_at=access.expires_at,
        id_token=tokens.id_token(ctx, grant, now, access),
        refresh_token=refresh_token,
        token_type="DPoP" if tokens.dpop_jkt is not None else "Bearer",
    )


def earns_refresh_token(grant: Grant, front: str) -> bool:
    """SPEC §2: for a user, when the client's policy issues them and it may refresh; on
    /connect only when offline_access was asked for. The gateway's user grants have always
    answered one (SPEC §9): its tokens carry `api:` scopes only, never offline_access."""
    client = grant.client
    return (
        grant.user is not None
        and client.rules.refresh_policy.issues_refresh_token
        and GRANT_REFRESH_TOKEN in client.grant_types
        and (front == GATEWAY or "offline_access" in grant.scopes)
    )


def refresh_rotates(front: str, policy: RefreshPolicy) -> bool:
    """Whether a refresh spends the token and answers a new one (reuse then revokes the
    family). /connect follows the client's policy (SPEC §2: public clients rotate); the
    gateway has always rotated, whatever the policy, and its partners rely on it."""
    return policy.rotates or front == GATEWAY


def refresh_binding(grant: Grant, dpop_jkt: str | None) -> str | None:
    """RFC 9449 §5: a public client's refresh token is bound to its DPoP key (anyone holding a
    copy could otherwise use it); a confidential client's is bound by its authentication."""
    return dpop_jkt if not grant.client.rules.is_confidential else None


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
    uow: UnitOfWork,
    ctx: AppContext,
    tokens: TokenFormat,
    grant: Grant,
    now: datetime,
    lineage: RefreshLineage,
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
            front=tokens.front,
            dpop_jkt=refresh_binding(grant, tokens.dpop_jkt),
        ),
    )
    return handle
