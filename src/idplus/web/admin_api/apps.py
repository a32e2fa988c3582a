"""`/admin/api/v1/apps`: the developer portal's apps — a company's clients — for its members
and operators (`manage.apps`).

An app is shown as a client is (`ClientOut`, with its `company_id`); its secret appears once, in
the answer that made it. Writes honour `If-Match` (RFC 9110 §13.1.1) with the app's ETag, so a
member working from a stale copy gets 412 instead of undoing another's change. A caller who is
not a member of the app's company gets 404, as for an app that does not exist.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from idplus.manage import apps, subscriptions
from idplus.policies import DEFAULT_SECRET_OVERLAP, MAX_SECRET_OVERLAP
from idplus.web.admin_api.clients import (
    AuthMethod,
    ClientOut,
    ClientTypeName,
    ClientWithSecret,
    Environment,
    GrantType,
    Profile,
    client_etag,
    client_out,
    created_with_secret,
    expected_versions,
)
from idplus.web.admin_api.keys import Algorithm
from idplus.web.admin_api.operations import (
    BadRequest,
    Call,
    Operation,
    PageQuery,
    Result,
    decode_cursor,
    encode_cursor,
)
from idplus.web.admin_api.subscriptions import SubscriptionRequestOut, request_out

APP_ID = re.compile(r"^app-[0-9a-f]{20}$")
# A company id as the companies API gives it: nothing longer, no control characters.
_COMPANY_ID = r"^[^\x00-\x1f\x7f]{1,64}$"


class AppList(BaseModel):
    items: list[ClientOut]
    # Pass as `cursor` for the next page; null on the last one.
    next_cursor: str | None


class AppPage(PageQuery):
    """The query of GET /apps: pages in client_id order."""

    # Only this company's apps (a member's or, for operators, any); none: every app in reach.
    company_id: str | None = Field(default=None, pattern=_COMPANY_ID)


class NewApp(BaseModel):
    """A new app: only name, company_id and type are required; the rest has the CLI's
    defaults (`idplus client add`). The client_id is generated; a Confidential app's secret
    too, shown once. API scopes come from subscription requests, not from here."""

    model_config = ConfigDict(extra="forbid", strict=True)

    # Shown to users on login, consent and CIBA pages and in SMS: plain text, one line.
    name: str
    company_id: str = Field(pattern=_COMPANY_ID)
    type: ClientTypeName
    # Empty: authorization_code (plus refresh_token when the type gets refresh tokens).
    grant_types: list[GrantType] = []
    redirect_uris: list[str] = []
    post_logout_redirect_uris: list[str] = []
    # Identity scopes; empty: openid profile email phone (+ offline_access with refresh).
    scopes: list[str] = []
    silent_sso: bool = False
    backchannel_logout_uri: str | None = None
    environment: Environment = "test"
    providers: list[str] = []
    response_types: list[str] = []
    access_token_lifetime: int | None = None
    id_token_lifetime: int | None = None
    require_pushed_authorization_requests: bool = False
    ciba_enabled: bool = False
    backchannel_client_notification_endpoint: str | None = None
    auth_method: AuthMethod | None = None
    # private_key_jwt: the app's public keys (a JWKS object), or jwks_uri.
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    require_dpop: bool = False
    signing_alg: Algorithm | None = None
    profile: Profile | None = None
    # Operators only: the shared SSO group, the legacy token exchange, whose tokens to exchange.
    one_telenor: bool = False
    update_at_claims: bool = False
    exchange_from: list[str] = []


class AppChanges(BaseModel):
    """The settings to change (JSON merge: members left out stay as they are)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = None
    redirect_uris: list[str] | None = None
    post_logout_redirect_uris: list[str] | None = None
    scopes: list[str] | None = None
    grant_types: list[GrantType] | None = None
    silent_sso: bool | None = None
    # null: none.
    backchannel_logout_uri: str | None = None
    environment: Environment | None = None
    providers: list[str] | None = None
    response_types: list[str] | None = None
    # Seconds; null: the server's default.
    access_token_lifetime: int | None = None
    id_token_lifetime: int | None = None
    require_pushed_authorization_requests: bool | None = None
    one_telenor: bool | None = None
    update_at_claims: bool | None = None
    exchange_from: list[str] | None = None


# The members of AppChanges that may be null (it means "none" / "the default").
_NULLABLE = frozenset({"backchannel_logout_uri", "access_token_lifetime", "id_token_lifetime"})


class RotateAppSecret(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    # How long the older secrets keep working (0: they stop now); at most 30 days.
    overlap_seconds: int = Field(
        int(DEFAULT_SECRET_OVERLAP.total_seconds()),
        ge=0,
        le=int(MAX_SECRET_OVERLAP.total_seconds()),
    )


class NewSubscriptionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    # The API product's scope, api:NAME.
    scope: str = Field(max_length=200)


def list_apps(call: Call) -> Result:
    query = call.query
    assert isinstance(query, AppPage)
    after = decode_cursor(query.cursor, APP_ID) if query.cursor is not None else None
    found = apps.list_apps(
        call.ctx.store, call.caller, company_id=query.company_id, after=after,
        limit=query.limit + 1,
    )  # fmt: skip
    page = found[: query.limit]
    more = len(found) > query.limit
    return Result(
        AppList(
            items=[client_out(app) for app in page],
            next_cursor=encode_cursor(page[-1].client_id) if more else None,
        )
    )


def create_app(call: Call) -> Result:
    body = call.body
    assert isinstance(body, NewApp)
    registered = apps.create_app(
        call.ctx.store, call.ctx.clock, call.caller, apps.AppRequest(**body.model_dump())
    )
    return created_with_secret(registered)


def get_app(call: Call) -> Result:
    app = apps.get_app(call.ctx.store, call.caller, call.path["client_id"])
    return Result(client_out(app), etag=client_etag(app))


def update_app(call: Call) -> Result:
    body = call.body
    assert isinstance(body, AppChanges)
    changes = body.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None and name not in _NULLABLE:
            raise BadRequest(f"{name}: may not be null (leave it out to keep it)")
    app = apps.update_app(
        call.ctx.store, call.ctx.clock, call.caller, call.path["client_id"], changes,
        expected_versions=expected_versions(call.if_match),
    )  # fmt: skip
    return Result(client_out(app), etag=client_etag(app))


def delete_app(call: Call) -> Result:
    apps.delete_app(
        call.ctx.store, call.ctx.clock, call.caller, call.path["client_id"],
        expected_versions=expected_versions(call.if_match),
    )  # fmt: skip
    return Result(None, status=204)


def rotate_secret(call: Call) -> Result:
    body = call.body
    assert isinstance(body, RotateAppSecret)
    registered = apps.rotate_app_secret(
        call.ctx.store, call.ctx.clock, call.caller, call.path["client_id"],
        overlap=timedelta(seconds=body.overlap_seconds),
        expected_versions=expected_versions(call.if_match),
    )  # fmt: skip
    return created_with_secret(registered)


def revoke_secret(call: Call) -> Result:
    app = apps.revoke_app_secret(
        call.ctx.store, call.ctx.clock, call.caller, call.path["client_id"],
        call.path["secret_id"], expected_versions=expected_versions(call.if_match),
    )  # fmt: skip
    return Result(client_out(app), etag=client_etag(app))


def request_subscription(call: Call) -> Result:
    body = call.body
    assert isinstance(body, NewSubscriptionRequest)
    request = subscriptions.request_subscription(
        call.ctx.store, call.ctx.clock, call.caller, call.path["client_id"], body.scope
    )
    return Result(request_out(request), status=201)


_NOT_FOUND = "no such app, or not one of your companies'"
_STALE = "the app changed since that version"

OPERATIONS = (
    Operation("GET", "/apps", "listApps",
              "Apps (clients of companies) by client_id: an operator's all, a developer's own",
              list_apps, response=AppList, query=AppPage,
              errors={404: "no such company, or not one of yours"}, operators_only=False),
    Operation("POST", "/apps", "createApp",
              "Create an app of a company you belong to; a Confidential app's secret is in "
              "this answer only", create_app, response=ClientWithSecret, status=201,
              body=NewApp, errors={404: "no such company, or not one of yours",
                                   403: "a setting only operators may set"},
              operators_only=False),
    Operation("GET", "/apps/{client_id}", "getApp", "One app (ETag: its version)", get_app,
              response=ClientOut, errors={404: _NOT_FOUND}, operators_only=False),
    Operation("PATCH", "/apps/{client_id}", "updateApp",
              "Change an app's settings, validated as at registration (If-Match: the version "
              "read)", update_app, response=ClientOut, body=AppChanges,
              errors={404: _NOT_FOUND, 412: _STALE}, operators_only=False),
    Operation("DELETE", "/apps/{client_id}", "deleteApp",
              "Delete an app; its tokens are refused at once (If-Match: the version read)",
              delete_app, status=204, errors={404: _NOT_FOUND, 412: _STALE},
              operators_only=False),
    Operation("POST", "/apps/{client_id}/rotate-secret", "rotateAppSecret",
              "A new secret, in this answer only; the older ones keep working overlap_seconds "
              "more (default a day)", rotate_secret, response=ClientWithSecret, status=201,
              body=RotateAppSecret, errors={404: _NOT_FOUND, 412: _STALE},
              operators_only=False),
    Operation("DELETE", "/apps/{client_id}/secrets/{secret_id}", "revokeAppSecret",
              "End an older secret now (never the current one)", revoke_secret,
              response=ClientOut, errors={404: "no such app or secret", 412: _STALE},
              operators_only=False),
    Operation("POST", "/apps/{client_id}/subscriptions", "requestSubscription",
              "Ask for an API product; an operator approves or rejects", request_subscription,
              response=SubscriptionRequestOut, status=201, body=NewSubscriptionRequest,
              errors={404: "no such app or API product",
                      409: "a request is pending, or the app subscribes already"},
              operators_only=False),
)  # fmt: skip
