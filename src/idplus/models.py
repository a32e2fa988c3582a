"""Frozen records shared by every layer. Stores return these, never ORM rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from idplus.policies import ClientType, ClientTypeRules, rules_for


@dataclass(frozen=True, slots=True)
class ClientSecret:
    id: str
    secret_hash: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    name: str
    client_type: ClientType
    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ()
    response_types: tuple[str, ...] = ("code",)
    api_access: bool = False
    silent_sso: bool = False
    one_telenor: bool = False
    update_at_claims: bool = False
    ciba_enabled: bool = False
    backchannel_logout_uri: str | None = None
    environment: str = "test"
    # Authentication providers the client may use, e.g. ("local",). Empty means the local one.
    providers: tuple[str, ...] = ()
    access_token_lifetime: int | None = None
    id_token_lifetime: int | None = None
    secrets: tuple[ClientSecret, ...] = ()
    created_at: datetime | None = None

    @property
    def rules(self) -> ClientTypeRules:
        return rules_for(self.client_type)


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    password_hash: str
    kurtid: str
    analytics_uuid: str
    tnuids: tuple[str, ...]
    ial: int = 0
    otp_required: bool = False
    phone_number: str | None = None
    email: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    birthdate: date | None = None
    legacy: dict[str, object] = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    alg: str
    # PEM; encrypted PKCS#8 when a key-encryption key is configured.
    private_pem: bytes
    public_jwk: dict[str, str]
    created_at: datetime
    # The key signs from `activate_at` on; published earlier so every cache has it first.
    activate_at: datetime
    # Published in the JWKS until then; None while it may still sign.
    publish_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ApiProduct:
    scope: str
    name: str
    client_ids: tuple[str, ...] = ()
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    event: str
    at: datetime
    client_id: str | None = None
    user_id: str | None = None
    detail: dict[str, object] = field(default_factory=dict)
