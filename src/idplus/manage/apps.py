"""Apps of the developer portal (issue 20): a company's clients, managed by its members.

An app is an ordinary client (`manage.clients`: the same validation, the CLI's defaults, the same
secret rotation) with a `company_id` and a generated client id. A member of the company may
create, change, re-key and delete its apps; an operator may do so for every company. Anyone
else asking for an app gets the answer for one that does not exist: they learn nothing of it.
API scopes are not set here: an app asks for an API product (`manage.subscriptions`) and an
operator's approval subscribes it.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from idplus.auth.providers import LOCAL_PROVIDER_ID
from idplus.clock import Clock
from idplus.errors import Forbidden, NotFoundError, ValidationError
from idplus.manage import clients
from idplus.manage.access import company_role
from idplus.models import AuditEvent, Caller, Client
from idplus.policies import (
    ADMIN_SCOPE,
    DEFAULT_SECRET_OVERLAP,
    GRANT_CIBA,
    GRANT_PASSWORD,
    GRANT_TOKEN_EXCHANGE,
    PORTAL_SCOPE,
    is_api_scope,
)
from idplus.store.base import Store, UnitOfWork
from idplus.uris import is_internal_host

APP_ID_PREFIX = "app-"
# Settings that reach beyond the app itself — the shared SSO group, the legacy token exchange,
# other clients' tokens to exchange — are an operator's to set.
OPERATOR_SETTINGS = ("one_telenor", "update_at_claims", "exchange_from")
# So are the grants that act for users who never used the app: the password grant takes
# anyone's password, token exchange any client's tokens, CIBA pushes a login to anyone's phone.
OPERATOR_GRANTS = (GRANT_PASSWORD, GRANT_TOKEN_EXCHANGE, GRANT_CIBA)
# The URIs idplus itself calls for an app: a developer's app may not aim them at idplus's own
# machine or network (`uris.is_internal_host`), which its developers cannot reach.
OUTBOUND_URIS = ("backchannel_logout_uri", "backchannel_client_notification_endpoint", "jwks_uri")
# What PATCH /apps/{id} may change (`update_app`); the type, keys and company stay.
CHANGEABLE = frozenset(
    {
        "name",
        "redirect_uris",
        "post_logout_redirect_uris",
        "scopes",
        "grant_types",
        "silent_sso",
        "backchannel_logout_uri",
        "environment",
        "providers",
        "response_types",
        "access_token_lifetime",
        "id_token_lifetime",
        "require_pushed_authorization_requests",
        *OPERATOR_SETTINGS,
    }
)


@dataclass(frozen=True, slots=True)
class AppRequest:
    """A new app: only `name`, `company_id` and `type` are required; everything else has the
    CLI's default (`manage.clients.ClientRegistration`)."""

    name: str
    company_id: str
    type: str
    grant_types: Sequence[str] = ()
    redirect_uris: Sequence[str] = ()
    post_logout_redirect_uris: Sequence[str] = ()
    scopes: Sequence[str] = ()
    silent_sso: bool = False
    backchannel_logout_uri: str | None = None
    environment: str = "test"
    providers: Sequence[str] = ()
    response_types: Sequence[str] = ()
    access_token_lifetime: int | None = None
    id_token_lifetime: int | None = None
    require_pushed_authorization_requests: bool = False
    ciba_enabled: bool = False
    backchannel_client_notification_endpoint: str | None = None
    auth_method: str | None = None
    jwks: str | Mapping[str, Any] | None = None
    jwks_uri: str | None = None
    require_dpop: bool = False
    signing_alg: str | None = None
    profile: str | None = None
    one_telenor: bool = False
    update_at_claims: bool = False
    exchange_from: Sequence[str] = ()


def new_app_id() -> str:
    """Short, URL-safe, unguessable, and in lower-case ASCII (so that every database orders
    apps alike): 80 random bits."""
    return APP_ID_PREFIX + secrets.token_hex(10)


def create_app(
    store: Store, clock: Clock, caller: Caller, request: AppRequest
) -> clients.RegisteredClient:
    """Register an app of a company the caller belongs to. A Confidential app's secret is in
    the answer only."""
    with store.reading() as uow:
        company_role(uow, caller, request.company_id)
    settings = {field.name: getattr(request, field.name) for field in fields(request)}
    _check_settings(caller, settings)
    _check_reach(caller, settings, before=None)
    registration = clients.ClientRegistration(
        client_id=new_app_id(), client_type=settings.pop("type"), **settings
    )
    return clients.add_client(store, clock, registration, actor=caller.actor)


def _check_settings(caller: Caller, fields: Mapping[str, Any]) -> None:
    """What only operators may set, and the scopes no app registers."""
    if not caller.operator:
        for name in OPERATOR_SETTINGS:
            if fields.get(name):
                raise Forbidden(f"only an operator may set {name} on an app")
    for scope in fields.get("scopes") or ():
        if scope in (ADMIN_SCOPE, PORTAL_SCOPE):
            raise ValidationError(f"scope {scope} is not for apps")
        if is_api_scope(scope):
            raise ValidationError(
                f"scope {scope}: request the API product (POST /apps/{{client_id}}/subscriptions)"
                "; an operator's approval subscribes the app"
            )


def _check_reach(caller: Caller, fields: Mapping[str, Any], *, before: Client | None) -> None:
    """A developer gives their app none of OPERATOR_GRANTS and no OUTBOUND_URIS to an internal
    host; an operator may. `before`: the app as stored, on a change — what an operator gave it
    stays, only what is new counts."""
    if caller.operator:
        return
    kept = set(before.grant_types) if before is not None else set()
    for grant in fields.get("grant_types") or ():
        if grant in OPERATOR_GRANTS and grant not in kept:
            raise Forbidden(f"only an operator may give an app the {grant} grant")
    for name in OUTBOUND_URIS:
        uri = fields.get(name)
        if not uri or (before is not None and uri == getattr(before, name)):
            continue
        try:
            host = urlsplit(uri).hostname
        except ValueError:
            continue  # not a URI: the registration's validation says so
        if is_internal_host(host):
            raise ValidationError(
                f"{name} {uri!r}: idplus calls an app only at a public host, not localhost or "
                "a loopback, private, link-local, multicast or reserved address"
            )


def app_in_reach(uow: UnitOfWork, caller: Caller, client_id: str, *, lock: bool = False) -> Client:
    """The app, if the caller may manage it: an operator, or a member of its company.
    NotFoundError otherwise, the same as for no app at all."""
    client = uow.clients.find(client_id, lock=lock)
    if client is not None and client.company_id is not None:
        if caller.operator:
            return client
        if caller.user_id is not None and uow.companies.role_of(client.company_id, caller.user_id):
            return client
    raise NotFoundError(f"no app {client_id!r}")


def list_apps(
    store: Store,
    caller: Caller,
    *,
    company_id: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> list[Client]:
    """By client_id. Operators: every app, or one company's; developers: their companies'."""
    with store.reading() as uow:
        if company_id is not None:
            company_role(uow, caller, company_id)
            companies: list[str] | None = [company_id]
        elif caller.operator:
            companies = None
        elif caller.user_id is None:
            return []
        else:
            companies = [m.company_id for m in uow.companies.memberships_of(caller.user_id)]
            if not companies:
                return []
        return uow.clients.page_of_apps(after=after, limit=limit, company_ids=companies)


def get_app(store: Store, caller: Caller, client_id: str) -> Client:
    with store.reading() as uow:
        return app_in_reach(uow, caller, client_id)


def update_app(
    store: Store,
    clock: Clock,
    caller: Caller,
    client_id: str,
    changes: Mapping[str, Any],
    *,
    expected_versions: Collection[str] | None = None,
) -> Client:
    """Change the app's settings (the names in CHANGEABLE), validated as a registration is.
    `expected_versions`: the versions the caller read (If-Match). Returns the app as stored."""
    unknown = sorted(set(changes) - CHANGEABLE)
    if unknown:
        raise ValidationError(f"{unknown[0]} cannot be changed")
    _check_settings(caller, changes)
    with store.transaction() as uow:
        client = app_in_reach(uow, caller, client_id, lock=True)
        _check_version(client, expected_versions)
        _check_reach(caller, changes, before=client)
        registration = replace(registration_of(client), **changes)
        changed = replace(
            clients.build_client(registration, clock).client,
            secrets=client.secrets,
            api_products=client.api_products,
            created_at=client.created_at,
        )
        if clients.describe_client(changed) == clients.describe_client(client):
            return client  # nothing to write, nothing to record
        _check_providers(uow, [p for p in changed.providers if p not in client.providers])
        uow.clients.update(changed, clock.now())
        stored = uow.clients.find(client_id)
        assert stored is not None, "read back in the transaction that wrote it"
        detail = _difference(client, stored)
        if caller.actor is not None:
            detail["actor"] = caller.actor
        uow.audit.record(
            AuditEvent("client.changed", clock.now(), client_id=client_id, detail=detail)
        )
    return stored


def registration_of(client: Client) -> clients.ClientRegistration:
    """The registration that gives this client (its settings; not its secrets, subscriptions
    or id's history), to change and validate again."""
    return clients.ClientRegistration(
        client_id=client.client_id,
        client_type=client.client_type.value,
        name=client.name,
        redirect_uris=client.redirect_uris,
        post_logout_redirect_uris=client.post_logout_redirect_uris,
        scopes=client.scopes,
        grant_types=client.grant_types,
        api_access=client.api_access,
        silent_sso=client.silent_sso,
        one_telenor=client.one_telenor,
        update_at_claims=client.update_at_claims,
        ciba_enabled=client.ciba_enabled,
        backchannel_logout_uri=client.backchannel_logout_uri,
        backchannel_client_notification_endpoint=client.backchannel_client_notification_endpoint,
        exchange_from=client.exchange_from,
        environment=client.environment,
        providers=client.providers,
        response_types=client.response_types,
        access_token_lifetime=client.access_token_lifetime,
        id_token_lifetime=client.id_token_lifetime,
        require_pushed_authorization_requests=client.require_pushed_authorization_requests,
        auth_method=client.token_endpoint_auth_method,
        jwks=client.jwks,
        jwks_uri=client.jwks_uri,
        require_dpop=client.require_dpop,
        signing_alg=client.signing_alg,
        profile=client.profile,
        company_id=client.company_id,
    )


def _check_providers(uow: UnitOfWork, providers: Sequence[str]) -> None:
    for provider in providers:
        # Locked, so the provider cannot be removed before this change is stored.
        if provider != LOCAL_PROVIDER_ID and not uow.upstream_providers.find(provider, lock=True):
            raise ValidationError(f"unknown provider {provider!r}")


def _check_version(client: Client, expected_versions: Collection[str] | None) -> None:
    if expected_versions is not None and clients.client_version(client) not in expected_versions:
        raise clients.StaleVersion(f"app {client.client_id!r} was changed since that version")


def _difference(before: Client, after: Client) -> dict[str, Any]:
    """The settings that changed, before and after, for the audit trail (never a secret)."""
    old, new = clients.describe_client(before), clients.describe_client(after)
    return {
        "changed": {
            name: {"before": old[name], "after": value}
            for name, value in new.items()
            if name not in ("secrets", "created_at") and old.get(name) != value
        }
    }


def delete_app(
    store: Store,
    clock: Clock,
    caller: Caller,
    client_id: str,
    *,
    expected_versions: Collection[str] | None = None,
) -> None:
    """Remove the app and every grant and token it holds (refused at once everywhere)."""
    with store.reading() as uow:
        app_in_reach(uow, caller, client_id)
    clients.remove_client(
        store, clock, client_id, expected_versions=expected_versions, actor=caller.actor
    )


def rotate_app_secret(
    store: Store,
    clock: Clock,
    caller: Caller,
    client_id: str,
    *,
    overlap: timedelta = DEFAULT_SECRET_OVERLAP,
    expected_versions: Collection[str] | None = None,
) -> clients.RegisteredClient:
    """A new secret, shown once; the older ones keep working for `overlap` at most."""
    with store.reading() as uow:
        app_in_reach(uow, caller, client_id)
    return clients.rotate_client_secret(
        store,
        clock,
        client_id,
        overlap=overlap,
        expected_versions=expected_versions,
        actor=caller.actor,
    )


def revoke_app_secret(
    store: Store,
    clock: Clock,
    caller: Caller,
    client_id: str,
    secret_id: str,
    *,
    expected_versions: Collection[str] | None = None,
) -> Client:
    """End an older secret now (never the current one)."""
    with store.reading() as uow:
        app_in_reach(uow, caller, client_id)
    return clients.revoke_client_secret(
        store, clock, client_id, secret_id, expected_versions=expected_versions, actor=caller.actor
    )
