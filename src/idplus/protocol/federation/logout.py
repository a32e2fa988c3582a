"""Ending a session at the upstream provider its login came from (SPEC §7).

With the user's browser: a chain of redirects through each upstream's `end_session_endpoint`
(RP-Initiated Logout 1.0) with the kept upstream ID token as `id_token_hint` and idplus's fixed
`/federation/{id}/logged-out` as return; each hop's `state` names (as an HMAC) a stored row
holding the next URL, so nothing the upstream or the browser sends can redirect elsewhere.
Without a browser (the native JSON logout): the upstream refresh token is revoked (RFC 7009).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from urllib.parse import urlencode

from idplus.auth.upstream_metadata import UpstreamUnavailable
from idplus.crypto.hashing import hash_handle
from idplus.crypto.secrets import SecretDecryptionError, open_secret
from idplus.logs import get_logger
from idplus.models import UpstreamProvider, UpstreamSessionTokens
from idplus.protocol.context import AppContext
from idplus.protocol.federation.errors import UpstreamError
from idplus.protocol.federation.upstream_calls import can_revoke, revoke_refresh_token
from idplus.uris import federation_logged_out_uri

log = get_logger(__name__)

# How long a browser may take at an upstream's logout page before coming back.
HOP_LIFETIME = timedelta(minutes=30)
# The next URL that means "show idplus's own logged-out page", with the page's locale after it.
LOGGED_OUT_PAGE = "logged-out-page:"


def logout_state_hash(ctx: AppContext, state: str) -> str:
    return hash_handle(ctx.secrets.handle_key, f"upstream-logout:{state}")


def upstream_logout_url(
    ctx: AppContext, upstreams: Sequence[UpstreamSessionTokens], final: str
) -> str | None:
    """Where to send the browser first to end the sessions at their upstreams, finishing at
    `final` (an absolute URL, or LOGGED_OUT_PAGE + locale); None when no upstream takes part.

    An upstream that is down or has no end_session_endpoint is skipped (logged): the user is
    logged out of idplus either way, and cannot be left stuck on the way out.
    """
    hops = [(tokens, hop) for tokens in upstreams if (hop := _endpoint(ctx, tokens)) is not None]
    if not hops:
        return None
    now, next_url = ctx.clock.now(), final
    with ctx.store.transaction() as uow:
        for tokens, (provider, endpoint) in reversed(hops):
            state = ctx.random.handle(32)
            uow.upstream_logouts.insert(
                logout_state_hash(ctx, state), provider.id, next_url, now + HOP_LIFETIME
            )
            query = {
                "id_token_hint": tokens.id_token,
                "client_id": provider.client_id,
                "post_logout_redirect_uri": federation_logged_out_uri(
                    ctx.settings.issuer, provider.id
                ),
                "state": state,
            }
            next_url = f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"
    return next_url


def _endpoint(
    ctx: AppContext, tokens: UpstreamSessionTokens
) -> tuple[UpstreamProvider, str] | None:
    with ctx.store.reading() as uow:
        provider = uow.upstream_providers.find(tokens.provider_id)
    if provider is None:
        log.info("upstream_logout_skipped", provider=tokens.provider_id, reason="removed")
        return None
    try:
        endpoint = ctx.upstream.discovery(provider.issuer).get("end_session_endpoint")
    except UpstreamUnavailable as error:
        log.warning("upstream_logout_skipped", provider=provider.id, reason=str(error))
        return None
    if not isinstance(endpoint, str) or not endpoint:
        log.info("upstream_logout_skipped", provider=provider.id, reason="no end_session_endpoint")
        return None
    return provider, endpoint


def back_from_upstream_logout(ctx: AppContext, provider_id: str, state: str) -> str | None:
    """The next URL of the chain for this hop (used once), or None when unknown or expired."""
    if not state:
        return None
    with ctx.store.transaction() as uow:
        return uow.upstream_logouts.consume(
            logout_state_hash(ctx, state), provider_id, ctx.clock.now()
        )


def revoke_upstream_sessions(ctx: AppContext, upstreams: Sequence[UpstreamSessionTokens]) -> bool:
    """End the sessions at their upstreams without a browser: revoke each upstream refresh
    token (RFC 7009). False when an upstream that should revoke one failed to."""
    succeeded = True
    for tokens in upstreams:
        try:
            _revoke(ctx, tokens)
        except UpstreamError as error:
            log.warning("upstream_logout_failed", provider=tokens.provider_id, reason=str(error))
            succeeded = False
    return succeeded


def _revoke(ctx: AppContext, tokens: UpstreamSessionTokens) -> None:
    if tokens.refresh_token_sealed is None:
        return  # nothing idplus holds keeps the upstream session alive
    with ctx.store.reading() as uow:
        provider = uow.upstream_providers.find(tokens.provider_id)
    if provider is None:
        raise UpstreamError("the provider was removed")
    if not can_revoke(ctx, provider):
        log.info("upstream_logout_skipped", provider=provider.id, reason="no revocation_endpoint")
        return
    try:
        refresh_token = open_secret(
            tokens.refresh_token_sealed, ctx.settings.key_encryption_key_value
        )
    except SecretDecryptionError:
        raise UpstreamError("the kept refresh token cannot be opened") from None
    revoke_refresh_token(ctx, provider, refresh_token)
    log.info("upstream_logout", provider=provider.id, by="revocation")
