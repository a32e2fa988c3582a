"""grant_type=client_credentials (RFC 6749 §4.4): a Confidential client acting for itself."""

from __future__ import annotations

from idplus.crypto.keys import KeyRing
from idplus.errors import InvalidScope, UnauthorizedClient
from idplus.models import Client
from idplus.protocol.context import AppContext
from idplus.protocol.grant import Grant
from idplus.protocol.issuance import TokenResponse, issue_tokens
from idplus.protocol.params import Params, split_space_list
from idplus.protocol.scopes import validate_requested_scopes

USES_STORE = False
# Scopes that describe a user; without one they mean nothing.
USER_ONLY_SCOPES = frozenset({"openid", "offline_access", "profile", "email", "phone"})


def issue(ctx: AppContext, ring: KeyRing, client: Client, params: Params) -> TokenResponse:
    if not client.rules.is_confidential:
        raise UnauthorizedClient("client_credentials is only for Confidential clients")
    requested = split_space_list(params.get("scope"))
    if requested:
        for scope in requested:
            if scope in USER_ONLY_SCOPES:
                raise InvalidScope(f"scope {scope} needs a user; not for client_credentials")
        scopes = validate_requested_scopes(requested, client)
    else:
        scopes = client.api_products if client.api_access else ()
    return issue_tokens(ctx, ring, Grant(client=client, scopes=scopes), ctx.clock.now())
