"""The upstream identity-provider registry (federation): add, list, show, remove.

Each provider gets fixed return URIs under the issuer, so the operator can register idplus at
the upstream before idplus ever starts. Its client secret is sealed like the signing keys:
encrypted under IDPLUS_KEY_ENCRYPTION_KEY when that is set. Nothing here prints it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from idplus.auth.providers import LOCAL_PROVIDER_ID
from idplus.clock import Clock
from idplus.config import Settings
from idplus.crypto.secrets import is_sealed, seal_secret
from idplus.errors import NotFoundError, ValidationError
from idplus.models import AuditEvent, UpstreamProvider
from idplus.store.base import Store
from idplus.uris import federation_callback_uri, federation_logged_out_uri, is_loopback_host

PROVIDER_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
ACR_PATTERN = re.compile(r"urn:telenor\.identity\.aal\.[1-3]")
# RFC 6749 §3.3 scope-token; RFC 8176 amr values are of the same shape here.
TOKEN_PATTERN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,100}")
LINK_BY = ("none", "email", "phone_number")
TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


@dataclass(frozen=True, slots=True)
class ProviderRegistration:
    id: str
    issuer: str
    client_id: str
    client_secret: str | None = None
    scopes: Sequence[str] = ()
    display_name: str | None = None
    acr: str | None = None
    amr: Sequence[str] = ()
    link_by: str = "none"
    token_auth_method: str = "client_secret_basic"
    ial_claim: str | None = None
    # "VALUE=N": the ial claim's VALUE gives the user IAL N.
    ial_values: Sequence[str] = ()


def validate_provider_id(provider_id: str) -> str:
    if not PROVIDER_ID_PATTERN.fullmatch(provider_id):
        raise ValidationError(
            f"provider id {provider_id!r} must be 1-64 lower-case letters, digits, - and _ "
            "starting with a letter or digit"
        )
    if provider_id == LOCAL_PROVIDER_ID:
        raise ValidationError("provider id 'local' is the built-in password + SMS provider")
    return provider_id


def validate_issuer(issuer: str) -> str:
    """An absolute https URL (http only on loopback hosts), as OIDC Discovery §3 requires."""
    try:
        parts = urlsplit(issuer)
        host = parts.hostname
    except ValueError:
        raise ValidationError(f"issuer {issuer!r} is not a URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValidationError(f"issuer {issuer!r} must be an absolute https URL")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ValidationError(
            f"issuer {issuer!r} must use https (plain http only for loopback hosts)"
        )
    if parts.query or parts.fragment or "?" in issuer or "#" in issuer:
        raise ValidationError(f"issuer {issuer!r} must not have a query or fragment")
    return issuer


def build_provider(reg: ProviderRegistration, settings: Settings, clock: Clock) -> UpstreamProvider:
    """Validate a registration into the record the store keeps (the secret sealed)."""
    validate_provider_id(reg.id)
    validate_issuer(reg.issuer)
    if not reg.client_id or len(reg.client_id) > 255 or not reg.client_id.isprintable():
        raise ValidationError("the upstream client id must be 1-255 printable characters")
    if reg.client_secret is not None and not reg.client_secret:
        raise ValidationError("the upstream client secret must not be empty")
    for scope in reg.scopes:
        if not TOKEN_PATTERN.fullmatch(scope):
            raise ValidationError(f"scope {scope!r} is not a valid scope token")
    for value in reg.amr:
        if not TOKEN_PATTERN.fullmatch(value):
            raise ValidationError(f"amr value {value!r} is not valid")
    if reg.acr is not None and not ACR_PATTERN.fullmatch(reg.acr):
        raise ValidationError(f"acr {reg.acr!r} must be urn:telenor.identity.aal.N (N = 1-3)")
    if reg.link_by not in LINK_BY:
        raise ValidationError(f"link-by must be one of {', '.join(LINK_BY)}")
    if reg.token_auth_method not in TOKEN_AUTH_METHODS:
        raise ValidationError(f"token auth method must be one of {', '.join(TOKEN_AUTH_METHODS)}")
    ial_values = _ial_values(reg)
    display_name = reg.display_name if reg.display_name is not None else reg.id
    if not display_name.strip() or len(display_name) > 200:
        raise ValidationError("the display name must be 1-200 characters")
    sealed = (
        seal_secret(reg.client_secret, settings.key_encryption_key_value)
        if reg.client_secret
        else None
    )
    return UpstreamProvider(
        id=reg.id,
        issuer=reg.issuer,
        client_id=reg.client_id,
        client_secret_sealed=sealed,
        # The upstream login is OpenID Connect: `openid` is always asked for, first.
        scopes=tuple(dict.fromkeys(("openid", *reg.scopes))),
        display_name=display_name,
        acr=reg.acr,
        amr=tuple(dict.fromkeys(reg.amr)),
        link_by=reg.link_by,
        token_auth_method=reg.token_auth_method,
        created_at=clock.now(),
        ial_claim=reg.ial_claim,
        ial_values=ial_values,
    )


def _ial_values(reg: ProviderRegistration) -> dict[str, int]:
    if reg.ial_claim is not None and not TOKEN_PATTERN.fullmatch(reg.ial_claim):
        raise ValidationError(f"ial claim {reg.ial_claim!r} is not a valid claim name")
    if reg.ial_values and reg.ial_claim is None:
        raise ValidationError("--ial-value needs --ial-claim")
    values: dict[str, int] = {}
    for pair in reg.ial_values:
        value, _, level = pair.rpartition("=")
        if not value or len(value) > 200 or level not in ("0", "1", "2", "3"):
            raise ValidationError(f"ial value {pair!r} must be VALUE=N with N 0-3")
        values[value] = int(level)
    return values


def add_provider(
    store: Store, settings: Settings, clock: Clock, reg: ProviderRegistration
) -> dict[str, str]:
    """Register an upstream provider; returns the URIs to register at the upstream."""
    provider = build_provider(reg, settings, clock)
    with store.transaction() as uow:
        if uow.upstream_providers.find(provider.id) is not None:
            raise ValidationError(f"provider {provider.id!r} already exists")
        uow.upstream_providers.insert(provider)
        uow.audit.record(
            AuditEvent("provider.added", clock.now(), detail=_registration_of(provider))
        )
    return {
        "id": provider.id,
        "redirect_uri": federation_callback_uri(settings.issuer, provider.id),
        "post_logout_redirect_uri": federation_logged_out_uri(settings.issuer, provider.id),
    }


def _registration_of(provider: UpstreamProvider) -> dict[str, object]:
    """What the registration set, for the audit trail: never the client secret."""
    return {
        "provider": provider.id,
        "issuer": provider.issuer,
        "client_id": provider.client_id,
        "scopes": list(provider.scopes),
        "acr": provider.acr,
        "amr": list(provider.amr),
        "link_by": provider.link_by,
        "token_auth_method": provider.token_auth_method,
    }


def get_provider(store: Store, provider_id: str) -> UpstreamProvider:
    with store.reading() as uow:
        provider = uow.upstream_providers.find(provider_id)
    if provider is None:
        raise NotFoundError(f"unknown provider {provider_id!r}")
    return provider


def list_providers(store: Store) -> list[UpstreamProvider]:
    with store.reading() as uow:
        return uow.upstream_providers.list_all()


def remove_provider(store: Store, clock: Clock, provider_id: str) -> None:
    """Remove a provider no client allows any more (like Keycloak, never behind their back)."""
    with store.transaction() as uow:
        # Delete first: on PostgreSQL the row lock makes a concurrent `client add --provider`
        # (which reads the row FOR SHARE) wait, so the check below sees its client.
        if not uow.upstream_providers.delete(provider_id):
            raise NotFoundError(f"unknown provider {provider_id!r}")
        # Its accounts go with it: an id registered again (perhaps for another issuer) starts
        # with none, so nobody there inherits a user of this one.
        uow.upstream_accounts.delete_provider(provider_id)
        users = sorted(c.client_id for c in uow.clients.list_all() if provider_id in c.providers)
        if users:
            raise ValidationError(
                f"provider {provider_id!r} is still allowed by client(s) {', '.join(users)}: "
                "remove them first"
            )
        uow.audit.record(
            AuditEvent("provider.removed", clock.now(), detail={"provider": provider_id})
        )


def describe_provider(provider: UpstreamProvider, settings: Settings) -> dict[str, Any]:
    """The operator's view of a provider: everything but the client secret."""
    sealed = provider.client_secret_sealed
    return {
        "id": provider.id,
        "issuer": provider.issuer,
        "client_id": provider.client_id,
        "client_secret": (
            None if sealed is None else ("encrypted" if is_sealed(sealed) else "plain")
        ),
        "scopes": list(provider.scopes),
        "display_name": provider.display_name,
        "acr": provider.acr,
        "amr": list(provider.amr),
        "link_by": provider.link_by,
        "token_auth_method": provider.token_auth_method,
        "ial_claim": provider.ial_claim,
        "ial_values": dict(provider.ial_values),
        "redirect_uri": federation_callback_uri(settings.issuer, provider.id),
        "post_logout_redirect_uri": federation_logged_out_uri(settings.issuer, provider.id),
        "created_at": provider.created_at.isoformat() if provider.created_at else None,
    }
