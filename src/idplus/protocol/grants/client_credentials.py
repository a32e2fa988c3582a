"""grant_type=client_credentials (RFC 6749 §4.4): a Confidential client acting for itself.

With JWT access tokens (/connect) it touches no store, so a cached client is answered on the
event loop; the gateway's reference tokens are written in one unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass

from idplus.errors import InvalidScope, UnauthorizedClient
from idplus.models import Client
from idplus.policies import GRANT_CLIENT_CREDENTIALS
from idplus.protocol.context import AppContext
from idplus.protocol.grant import Grant
from idplus.protocol.grants import Front, GrantType
from idplus.protocol.issuance import TokenResponse, issue_tokens
from idplus.protocol.params import Params, split_space_list

# Scopes that describe a user; without one they mean nothing.
USER_ONLY_SCOPES = frozenset({"openid", "offline_access", "profile", "email", "phone"})


@dataclass(frozen=True, slots=True)
class ClientCredentialsRequest:
    scopes: tuple[str, ...]


class ClientCredentialsGrant(GrantType[ClientCredentialsRequest]):
    name = GRANT_CLIENT_CREDENTIALS
    uses_store = False

    def parse(self, params: Params) -> ClientCredentialsRequest:
        return ClientCredentialsRequest(split_space_list(params.get("scope")))

    def redeem(
        self, ctx: AppContext, front: Front, client: Client, request: ClientCredentialsRequest
    ) -> TokenResponse:
        if not client.rules.is_confidential:
            raise UnauthorizedClient("client_credentials is only for Confidential clients")
        for scope in request.scopes:
            if scope in USER_ONLY_SCOPES:
                raise InvalidScope(f"scope {scope} needs a user; not for client_credentials")
        grant = Grant(client=client, scopes=front.requested_scopes(client, request.scopes))
        now = ctx.clock.now()
        if not front.tokens.stores_access_tokens:
            return issue_tokens(ctx, front.tokens, grant, now)
        with ctx.store.transaction() as uow:
            return issue_tokens(ctx, front.tokens, grant, now, uow=uow)
