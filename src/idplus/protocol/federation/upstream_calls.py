"""What idplus asks an upstream provider's endpoints, as its client: the code for tokens
(RFC 6749 §4.1.3 with RFC 7636), the user's claims (OIDC Core §5.3), and revoking a refresh
token (RFC 7009). Blocking: the callers run in worker threads."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from idplus.auth.upstream_metadata import ANSWER_MAX_BYTES, UpstreamUnavailable, fetch_json
from idplus.crypto.secrets import SecretDecryptionError, client_secret_of
from idplus.models import UpstreamProvider
from idplus.protocol.context import AppContext
from idplus.protocol.federation.errors import UpstreamError
from idplus.uris import federation_callback_uri


@dataclass(frozen=True, slots=True)
class UpstreamTokens:
    id_token: object
    access_token: str | None
    refresh_token: str | None


def redeem_code(
    ctx: AppContext, provider: UpstreamProvider, code: str, verifier: str
) -> UpstreamTokens:
    if not code:
        raise UpstreamError("no code")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": federation_callback_uri(ctx.settings.issuer, provider.id),
        "code_verifier": verifier,
    }
    body = _post(ctx, provider, _endpoint(ctx, provider, "token_endpoint"), form, "token endpoint")
    access, refresh = body.get("access_token"), body.get("refresh_token")
    return UpstreamTokens(
        id_token=body.get("id_token"),
        access_token=access if isinstance(access, str) and access else None,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
    )


def fetch_userinfo(
    ctx: AppContext, provider: UpstreamProvider, access_token: str | None, subject: str
) -> dict[str, Any]:
    """The upstream's userinfo claims ({} when it has no userinfo endpoint); their `sub` must be
    the ID token's (OIDC Core §5.3.2), or a substituted response could rename the user."""
    endpoint = _endpoint(ctx, provider, "userinfo_endpoint", required=False)
    if endpoint is None:
        return {}
    if access_token is None:
        raise UpstreamError("no access_token for the userinfo endpoint")
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
    try:
        status, claims = fetch_json(
            ctx.upstream.http, "GET", endpoint, max_bytes=ANSWER_MAX_BYTES, headers=headers
        )
    except UpstreamUnavailable as error:
        raise UpstreamError(f"userinfo endpoint: {error}") from None
    if status != 200:
        raise UpstreamError(f"userinfo endpoint: HTTP {status}")
    if not isinstance(claims, dict):
        raise UpstreamError("userinfo endpoint: not a JSON object (signed userinfo unsupported)")
    if claims.get("sub") != subject:
        raise UpstreamError("userinfo sub is not the id_token's")
    return claims


def can_revoke(ctx: AppContext, provider: UpstreamProvider) -> bool:
    return _endpoint(ctx, provider, "revocation_endpoint", required=False) is not None


def revoke_refresh_token(ctx: AppContext, provider: UpstreamProvider, refresh_token: str) -> None:
    """RFC 7009 §2: 200 means revoked (or already invalid); anything else is a failure."""
    endpoint = _endpoint(ctx, provider, "revocation_endpoint", required=False)
    if endpoint is None:
        raise UpstreamError("the upstream has no revocation endpoint")
    form = {"token": refresh_token, "token_type_hint": "refresh_token"}
    _post(ctx, provider, endpoint, form, "revocation endpoint", expect_json=False)


def _endpoint(
    ctx: AppContext, provider: UpstreamProvider, name: str, *, required: bool = True
) -> str | None:
    try:
        value = ctx.upstream.discovery(provider.issuer).get(name)
    except UpstreamUnavailable as error:
        raise UpstreamError(f"discovery: {error}") from None
    if isinstance(value, str) and value:
        return value
    if required:
        raise UpstreamError(f"discovery has no {name}")
    return None


def _post(
    ctx: AppContext,
    provider: UpstreamProvider,
    endpoint: str | None,
    form: dict[str, str],
    what: str,
    *,
    expect_json: bool = True,
) -> dict[str, Any]:
    assert endpoint is not None
    headers = {"Accept": "application/json"}
    secret = _client_secret(ctx, provider)
    if secret is not None and provider.token_auth_method == "client_secret_basic":
        # RFC 6749 §2.3.1: both parts form-urlencoded before the Basic encoding.
        pair = f"{quote(provider.client_id, safe='')}:{quote(secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    else:
        form = {**form, "client_id": provider.client_id}
        if secret is not None:
            form["client_secret"] = secret
    try:
        status, body = fetch_json(
            ctx.upstream.http, "POST", endpoint, max_bytes=ANSWER_MAX_BYTES,
            data=form, headers=headers,
        )  # fmt: skip
    except UpstreamUnavailable as error:
        raise UpstreamError(f"{what}: {error}") from None
    if status != 200 or (expect_json and not isinstance(body, dict)):
        detail = str(body.get("error"))[:100] if isinstance(body, dict) else None
        raise UpstreamError(f"{what}: HTTP {status} {detail or ''}".strip())
    return body if isinstance(body, dict) else {}


def _client_secret(ctx: AppContext, provider: UpstreamProvider) -> str | None:
    try:
        return client_secret_of(provider, ctx.settings)
    except SecretDecryptionError:
        raise UpstreamError("the provider's client secret cannot be opened") from None
