"""`/admin/api/v1/clients`: the client registry (list, show, register, rotate a secret,
remove) — `manage.clients`, as `idplus client`.

A client's entity tag (ETag) is `manage.clients.client_version`; removal and rotation honour
`If-Match` (RFC 9110 §13.1.1) so that an operator working from a stale copy gets 412 instead of
undoing another's change. Secrets appear once, in the answer that made them; hashes never.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict

from idplus.errors import ValidationError
from idplus.manage import clients
from idplus.models import Client
from idplus.policies import CLIENT_TYPE_RULES, KNOWN_GRANT_TYPES, OAuthClientType, RefreshPolicyName
from idplus.web.admin_api.keys import Algorithm
from idplus.web.admin_api.operations import (
    Call,
    Operation,
    PageQuery,
    Result,
    decode_cursor,
    encode_cursor,
)

ClientTypeName = Literal["Public", "PublicWithRefresh", "Confidential", "MobileApp"]
GrantType = Literal[
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:openid:params:grant-type:ciba",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "password",
]
Environment = Literal["test", "prod"]
AuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt"]
Profile = Literal["fapi2"]
OAuthTypeName = Literal["public", "confidential"]
RefreshPolicy = Literal["NoRefresh", "Confidential", "Mobile", "PublicWeb", "Web"]
# The closed sets above are spelled out for the OpenAPI document; they must stay the policy's.
assert set(get_args(ClientTypeName)) == {t.value for t in CLIENT_TYPE_RULES}
assert set(get_args(GrantType)) == KNOWN_GRANT_TYPES
assert get_args(Environment) == clients.ENVIRONMENTS
assert get_args(AuthMethod) == clients.AUTH_METHODS
assert get_args(Profile) == clients.PROFILES
assert set(get_args(OAuthTypeName)) == set(OAuthClientType)
assert set(get_args(RefreshPolicy)) == set(RefreshPolicyName)


class ClientSecretOut(BaseModel):
    # The secret's record id (as in the audit trail), never the secret or its hash.
    id: str
    created_at: datetime
    # When it stops working (a rotation's overlap); null: until rotated out or revoked.
    expires_at: datetime | None


class ClientOut(BaseModel):
    """What `idplus client show` prints."""

    client_id: str
    name: str
    type: ClientTypeName
    oauth_client_type: OAuthTypeName
    refresh_policy: RefreshPolicy
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    scopes: list[str]
    # The API products (api: scopes) the client is subscribed to.
    api_products: list[str]
    grant_types: list[GrantType]
    response_types: list[str]
    # Seconds; null: the server's default.
    access_token_lifetime: int | None
    id_token_lifetime: int | None
    require_pushed_authorization_requests: bool
    require_dpop: bool
    signing_alg: Algorithm
    profile: Profile | None
    token_endpoint_auth_method: Literal[AuthMethod, "none"]
    jwks: dict[str, Any] | None
    jwks_uri: str | None
    api_access: bool
    silent_sso: bool
    one_telenor: bool
    update_at_claims: bool
    ciba_enabled: bool
    backchannel_logout_uri: str | None
    exchange_from: list[str]
    backchannel_client_notification_endpoint: str | None
    environment: Environment
    providers: list[str]
    # The developer portal company whose app this client is (/apps); null for others.
    company_id: str | None
    secrets: list[ClientSecretOut]
    created_at: datetime | None


class ClientWithSecret(ClientOut):
    # The plaintext secret, in this answer only (only its hash is stored); null for clients
    # without one (public types, private_key_jwt).
    client_secret: str | None


class ClientList(BaseModel):
    items: list[ClientOut]
    # Pass as `cursor` for the next page; null on the last one.
    next_cursor: str | None


class ClientPage(PageQuery):
    """The query of GET /clients: pages in client_id order."""


class NewClient(BaseModel):
    """`idplus client add`'s options (manage.clients.ClientRegistration), with its defaults.
    Strict: JSON types as written (a number is not a string, "true" is not a boolean)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    client_id: str
    client_type: ClientTypeName
    # Shown to users on login and consent pages; none: the client_id.
    name: str | None = None
    redirect_uris: list[str] = []
    post_logout_redirect_uris: list[str] = []
    # Empty: openid profile email phone (plus offline_access when the type gets refresh tokens).
    scopes: list[str] = []
    # Empty: authorization_code (plus refresh_token when the type gets refresh tokens).
    grant_types: list[GrantType] = []
    # Confidential only: this secret (16+ characters) instead of a generated one.
    secret: str | None = None
    api_access: bool = False
    silent_sso: bool = False
    one_telenor: bool = False
    update_at_claims: bool = False
    ciba_enabled: bool = False
    backchannel_logout_uri: str | None = None
    backchannel_client_notification_endpoint: str | None = None
    exchange_from: list[str] = []
    environment: Environment = "test"
    providers: list[str] = []
    response_types: list[str] = []
    access_token_lifetime: int | None = None
    id_token_lifetime: int | None = None
    require_pushed_authorization_requests: bool = False
    auth_method: AuthMethod | None = None
    # private_key_jwt: the client's public keys (a JWKS object), or jwks_uri.
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    require_dpop: bool = False
    signing_alg: Algorithm | None = None
    profile: Profile | None = None


def list_clients(call: Call) -> Result:
    query = call.query
    assert isinstance(query, ClientPage)
    cursor = query.cursor
    after = decode_cursor(cursor, clients.CLIENT_ID_PATTERN) if cursor is not None else None
    # Code-point order in Python, whatever the database's collation, so the cursor's `>` and
    # the order agree. The registry is small enough to read whole, in one read.
    registry = sorted(clients.list_clients(call.ctx.store), key=lambda c: c.client_id)
    rest = [c for c in registry if after is None or c.client_id > after]
    page = rest[: query.limit]
    more = len(rest) > query.limit
    return Result(
        ClientList(
            items=[client_out(c) for c in page],
            next_cursor=encode_cursor(page[-1].client_id) if more else None,
        )
    )


def get_client(call: Call) -> Result:
    client = clients.get_client(call.ctx.store, call.path["client_id"])
    return Result(client_out(client), etag=client_etag(client))


def add_client(call: Call) -> Result:
    body = call.body
    assert isinstance(body, NewClient)
    registration = clients.ClientRegistration(**body.model_dump())
    registered = clients.add_client(
        call.ctx.store, call.ctx.clock, registration, actor=call.caller.actor
    )
    return created_with_secret(registered)


def rotate_secret(call: Call) -> Result:
    registered = clients.rotate_client_secret(
        call.ctx.store,
        call.ctx.clock,
        call.path["client_id"],
        expected_versions=expected_versions(call.if_match),
        actor=call.caller.actor,
    )
    return created_with_secret(registered)


def remove_client(call: Call) -> Result:
    clients.remove_client(
        call.ctx.store,
        call.ctx.clock,
        call.path["client_id"],
        expected_versions=expected_versions(call.if_match),
        actor=call.caller.actor,
    )
    return Result(None, status=204)


def client_out(client: Client) -> ClientOut:
    return ClientOut.model_validate(clients.describe_client(client))


def created_with_secret(registered: clients.RegisteredClient) -> Result:
    described = clients.describe_client(registered.client)
    body = ClientWithSecret.model_validate({**described, "client_secret": registered.client_secret})
    return Result(body, status=201, etag=client_etag(registered.client))


def client_etag(client: Client) -> str:
    return f'"{clients.client_version(client)}"'


# RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, in a comma-separated list.
_ENTITY_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')


def expected_versions(if_match: str | None) -> frozenset[str] | None:
    """The client versions an If-Match header accepts; None: any (no header, or `*`).

    If-Match compares strongly (RFC 9110 §13.1.1): a weak tag never matches, so a header of
    weak tags only accepts no version at all and the write gets 412.
    """
    if if_match is None or if_match.strip() == "*":
        return None
    if not if_match.strip():
        raise ValidationError("If-Match: not a list of entity tags")
    versions: set[str] = set()
    position = 0
    while position < len(if_match):
        tag = _ENTITY_TAG.match(if_match, position)
        if tag is None:
            raise ValidationError("If-Match: not a list of entity tags")
        if tag.group(1) is None:
            versions.add(tag.group(2))
        position = tag.end()
    return frozenset(versions)


OPERATIONS = (
    Operation("GET", "/clients", "listClients", "The registered clients, by client_id",
              list_clients, response=ClientList, query=ClientPage),
    Operation("GET", "/clients/{client_id}", "getClient",
              "One client, everything but its secrets (ETag: its version)", get_client,
              response=ClientOut, errors={404: "no such client"}),
    Operation("POST", "/clients", "addClient",
              "Register a client; a Confidential one's secret is in this answer only",
              add_client, response=ClientWithSecret, status=201, body=NewClient),
    Operation("POST", "/clients/{client_id}/rotate-secret", "rotateClientSecret",
              "A new secret, in this answer only; the previous ones work 24 hours more "
              "(If-Match: the version read)", rotate_secret,
              response=ClientWithSecret, status=201,
              errors={404: "no such client", 412: "the client changed since that version"}),
    Operation("DELETE", "/clients/{client_id}", "removeClient",
              "Remove a client and every grant it holds (If-Match: the version read)",
              remove_client, status=204,
              errors={404: "no such client", 412: "the client changed since that version"}),
)  # fmt: skip
