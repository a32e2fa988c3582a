"""Frozen records shared by every layer. Stores return these, never ORM rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from idplus.policies import ClientType, ClientTypeRules, is_api_scope, rules_for

# token_endpoint_auth_method of a client that signs assertions (RFC 7523) instead of a secret.
PRIVATE_KEY_JWT = "private_key_jwt"
# The JWS algorithms idplus signs ID tokens, access tokens and logout tokens with; a client picks
# one (`--signing-alg`, OIDC Registration's id_token_signed_response_alg).
SIGNING_ALGORITHMS = ("RS256", "PS256", "ES256")
DEFAULT_SIGNING_ALGORITHM = "RS256"
# `--profile fapi2`: the FAPI 2.0 Security Profile's rules enforced for one client.
PROFILE_FAPI2 = "fapi2"
# FAPI 2.0 §5.4.1: the JWS algorithms of its clients' assertions, proofs and tokens (idplus
# signs and verifies these two of PS256, ES256 and EdDSA); never RS256.
FAPI2_ALGORITHMS = ("PS256", "ES256")


@dataclass(frozen=True, slots=True)
class ClientSecret:
    id: str
    secret_hash: str
    created_at: datetime
    # A rotated-out secret works until then (the rotation's overlap); None: no end set.
    expires_at: datetime | None = None

    def works_at(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


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
    # CIBA ping mode (without it, poll mode).
    backchannel_client_notification_endpoint: str | None = None
    environment: str = "test"
    # Authentication providers the client may use, e.g. ("local",). Empty means the local one.
    providers: tuple[str, ...] = ()
    # Token exchange: the clients whose access tokens this one may exchange; empty: any.
    exchange_from: tuple[str, ...] = ()
    access_token_lifetime: int | None = None
    id_token_lifetime: int | None = None
    secrets: tuple[ClientSecret, ...] = ()
    created_at: datetime | None = None
    # The `api:` scopes of the API products the client subscribes to (gateway registry).
    api_products: tuple[str, ...] = ()
    # How the client authenticates (RFC 7591 names): None = by its type (a secret for a
    # Confidential client, nothing for a public one); PRIVATE_KEY_JWT = signed assertions
    # (RFC 7523) checked with the public keys of `jwks` or of the document at `jwks_uri`.
    token_endpoint_auth_method: str | None = None
    jwks: Mapping[str, Any] | None = None
    jwks_uri: str | None = None
    # RFC 9126 §6: the authorization endpoint takes this client's requests only if pushed.
    require_pushed_authorization_requests: bool = False
    # RFC 9449: every token request needs a DPoP proof; every access token is DPoP-bound.
    require_dpop: bool = False
    # The JWS algorithm of this client's ID, access and logout tokens (SIGNING_ALGORITHMS).
    signing_alg: str = DEFAULT_SIGNING_ALGORITHM
    # None, or PROFILE_FAPI2: the FAPI 2.0 Security Profile enforced (registration checks
    # that PAR, private_key_jwt, DPoP and PS256/ES256 are all set; requests are held to it).
    profile: str | None = None
    # The developer portal's company whose app this client is; None for operators' clients.
    company_id: str | None = None

    @property
    def is_fapi2(self) -> bool:
        return self.profile == PROFILE_FAPI2

    @property
    def rules(self) -> ClientTypeRules:
        return rules_for(self.client_type)

    @property
    def own_name(self) -> str | None:
        """The name the operator gave the app; None without one (registration then stores the
        client id, which means nothing to the people who read it)."""
        return self.name if self.name and self.name != self.client_id else None

    @property
    def display_name(self) -> str:
        """What pages call the app: its own name, else its client id."""
        return self.own_name or self.client_id

    @property
    def uses_private_key_jwt(self) -> bool:
        return self.token_endpoint_auth_method == PRIVATE_KEY_JWT

    def may_request(self, scope: str) -> bool:
        """API scopes come from product subscriptions; identity scopes from registration."""
        if is_api_scope(scope):
            return self.api_access and scope in self.api_products
        return scope in self.scopes


# The password hash of users an upstream provider created: not an argon2 hash, so no password
# ever matches it. Such users log in only through their upstream accounts.
NO_PASSWORD = "!upstream"


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
    # Locked by an operator: no login and no refresh until unlocked. None: not locked.
    disabled_at: datetime | None = None

    @property
    def has_password(self) -> bool:
        """A local user: one who can log in with a password (not only through an upstream)."""
        return self.password_hash != NO_PASSWORD


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
class ServerSecrets:
    """Secrets the server generates once and keeps in its database."""

    # Signs cookies and CSRF tokens (IDPLUS_SECRET_KEY when set).
    cookie_key: bytes
    # Salts pairwise subject identifiers; must never change, or every `sub` would.
    pairwise_salt: bytes
    # Keys the HMAC under which bearer handles are stored.
    handle_key: bytes


@dataclass(frozen=True, slots=True)
class ApiProduct:
    scope: str
    name: str
    client_ids: tuple[str, ...] = ()
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UpstreamProvider:
    """An upstream OpenID provider idplus sends users to (federation)."""

    id: str
    issuer: str
    client_id: str
    # Stored form (crypto.secrets): "fernet:…" under the key-encryption key, else "plain:…";
    # None for a client the upstream registered without a secret (PKCE alone).
    client_secret_sealed: str | None
    scopes: tuple[str, ...] = ("openid",)
    display_name: str = ""
    # What a login through this provider asserts in idplus's tokens.
    acr: str | None = None
    amr: tuple[str, ...] = ()
    # "email" | "phone_number" | "none": which verified upstream claim joins a local user.
    link_by: str = "none"
    # How idplus authenticates to the upstream's token endpoint.
    token_auth_method: str = "client_secret_basic"
    created_at: datetime | None = None
    # The upstream claim that tells the identity assurance, and its values → our IAL (0-3).
    ial_claim: str | None = None
    ial_values: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UpstreamAccount:
    """An upstream account (provider, upstream `sub`) linked to a local user."""

    provider_id: str
    subject: str
    user_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class UpstreamSessionTokens:
    """What ending a session at its upstream needs (kept from the upstream login)."""

    provider_id: str
    id_token: str
    # crypto.secrets stored form; None when the upstream gave no refresh token.
    refresh_token_sealed: str | None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    event: str
    at: datetime
    client_id: str | None = None
    user_id: str | None = None
    detail: dict[str, object] = field(default_factory=dict)
    # The trail's own number, increasing in recording order: None until recorded; read back,
    # it is what the admin API's cursor pages by.
    id: int | None = None
    # What the event is about when it is neither a client nor a user: "kind:id"
    # ("company:…", "api_product:…"); recorded events about a client or a user are found
    # through those. Who made the change is detail["actor"].
    target: str | None = None


@dataclass(frozen=True, slots=True)
class AuditSubject:
    """What audit events are about, as the admin API's `object` filter names it: "client:ID",
    "user:ID", "company:ID", "api_product:SCOPE" …"""

    kind: str
    id: str


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A validated authorization request (OIDC Core §3.1.2.1), as the login pages carry it."""

    client_id: str
    redirect_uri: str
    response_type: str
    response_mode: str
    scopes: tuple[str, ...]
    state: str | None = None
    nonce: str | None = None
    prompt: tuple[str, ...] = ()
    max_age: int | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    login_hint: str | None = None
    ui_locale: str = "en"
    acr_values: tuple[str, ...] = ()
    # Assurance level asked for through acr_values (0 = none asked).
    requested_aal: int = 0
    # Upstream or local provider chosen through `idp:` in acr_values.
    requested_idp: str | None = None
    # Set for logins that idplus's own pages start (device verification, account page):
    # after the login the browser returns to this path instead of receiving a code.
    return_to: str | None = None
    # RFC 9449 §10: the thumbprint of the DPoP key the code will be bound to (the `dpop_jkt`
    # parameter, or the key of the DPoP proof sent with a pushed request).
    dpop_jkt: str | None = None

    def to_json(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuthorizationRequest:
        fields = dict(data)
        for name in ("scopes", "prompt", "acr_values"):
            fields[name] = tuple(fields.get(name) or ())
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class PushedRequest:
    """An authorization request pushed to /connect/par (RFC 9126), validated at push time and
    waiting for the browser to bring its request_uri to the authorization endpoint once."""

    # HMAC of the request_uri's random part; the request_uri itself is never stored.
    request_uri_hash: str
    client_id: str
    request: AuthorizationRequest
    # True when the push named no ui_locales: the pages then follow the browser's language,
    # which is known only when the browser arrives.
    locale_from_browser: bool
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Authentication:
    """What a login established about the user (OIDC Core §2 auth_time, amr, acr)."""

    user_id: str
    auth_time: datetime
    amr: tuple[str, ...]
    acr: str
    idp: str
    # The user's `sub` at the upstream provider `idp` (None for the local provider).
    upstream_subject: str | None = None


@dataclass(frozen=True, slots=True)
class SsoSession:
    id: str
    user_id: str
    sso_group: str
    auth_time: datetime
    acr: str
    amr: tuple[str, ...]
    idp: str
    persistent: bool
    lifetime_seconds: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None
    # The user's `sub` at the upstream provider `idp` (None for the local provider).
    upstream_subject: str | None = None
    # The browser's User-Agent at the login that opened it, cleaned (the account page names it).
    user_agent: str | None = None
    # The passkey its login used (`Passkey.id`): removing that passkey ends the session.
    passkey_id: str | None = None

    def is_active(self, now: datetime) -> bool:
        return self.ended_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class Interaction:
    """An authorization request waiting for the user (login, code, choice or confirmation)."""

    id_hash: str
    browser_hash: str
    client_id: str
    request: AuthorizationRequest
    stage: str
    created_at: datetime
    expires_at: datetime
    provider: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    remember_me: bool = False
    amr: tuple[str, ...] = ()
    otp_hash: str | None = None
    otp_expires_at: datetime | None = None
    otp_attempts: int = 0
    otp_sends: int = 0
    otp_sent_at: datetime | None = None
    # An upstream login (federation) in progress: the HMAC of the `state` sent to the
    # upstream, and the nonce and PKCE verifier the callback needs.
    upstream_state_hash: str | None = None
    upstream_nonce: str | None = None
    upstream_verifier: str | None = None
    # A passkey login verified and waiting for GET /login to finish it (`Passkey.id`).
    passkey_id: str | None = None


@dataclass(frozen=True, slots=True)
class CodeGrant:
    """What an authorization code stands for; the code itself is only kept as a hash."""

    code_hash: str
    grant_id: str
    client_id: str
    user_id: str
    session_id: str | None
    redirect_uri: str
    scopes: tuple[str, ...]
    auth_time: datetime
    acr: str
    amr: tuple[str, ...]
    idp: str
    created_at: datetime
    expires_at: datetime
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    # Login details the tokens repeat, e.g. preferred_username.
    claims: dict[str, object] = field(default_factory=dict)
    used_at: datetime | None = None
    # RFC 9449 §10: only a DPoP proof made with this key (RFC 7638 thumbprint) redeems the code.
    dpop_jkt: str | None = None


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """A refresh token's record; the token itself is only kept as a hash."""

    id: str
    token_hash: str
    family_id: str
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    policy: str
    issued_at: datetime
    expires_at: datetime
    absolute_expires_at: datetime
    auth_time: datetime | None
    acr: str | None
    amr: tuple[str, ...]
    idp: str | None
    session_id: str | None = None
    parent_id: str | None = None
    grant_id: str | None = None
    tnuid: str | None = None
    used_at: datetime | None = None
    revoked_at: datetime | None = None
    # "connect" (JWT access tokens) or "gateway" (reference tokens): only its front redeems it.
    front: str = "connect"
    # RFC 9449 §5: a public client's refresh token is bound to its DPoP key (thumbprint).
    dpop_jkt: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceRequest:
    """A device authorization request (RFC 8628 §3.1-3.3); the device code is kept hashed."""

    device_code_hash: str
    user_code: str
    client_id: str
    scopes: tuple[str, ...]
    # pending → approved | denied; approved → used
    status: str
    interval: int
    created_at: datetime
    expires_at: datetime
    last_polled_at: datetime | None = None
    user_id: str | None = None
    session_id: str | None = None
    auth_time: datetime | None = None
    acr: str | None = None
    amr: tuple[str, ...] = ()
    idp: str | None = None


@dataclass(frozen=True, slots=True)
class CibaRequest:
    """A backchannel authentication request (CIBA Core 1.0 §7); the auth_req_id and the
    approval link's token are kept as HMACs."""

    auth_req_id_hash: str
    client_id: str
    user_id: str
    flow: str
    scopes: tuple[str, ...]
    binding_message: str | None
    approval_hash: str
    # pending → approved | denied; approved → used
    status: str
    interval: int
    next_poll_at: datetime
    created_at: datetime
    expires_at: datetime
    polled: bool = False
    browser_hash: str | None = None
    ping_sealed: str | None = None
    session_id: str | None = None
    auth_time: datetime | None = None
    acr: str | None = None
    amr: tuple[str, ...] = ()
    idp: str | None = None


@dataclass(frozen=True, slots=True)
class GatewayToken:
    """An opaque access or refresh token of the /oauth/v2 front, kept only as a hash."""

    token_hash: str
    kind: str
    client_id: str
    user_id: str | None
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    grant_id: str | None = None

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class Delivery:
    """An outbound message in the durable outbox (sent by any instance, retried, once)."""

    id: str
    kind: str
    target: str
    payload: Mapping[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    subject: str | None = None
    claimed_until: datetime | None = None
    last_error: str | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PasswordReset:
    """A forgotten password being reset, bound to the browser that asked for it. Its handle
    (in the reset pages' URLs), SMS code and e-mail link are kept only as HMACs."""

    id: str
    # HMAC of the handle; replaced when the e-mail link is used, so only that tab goes on.
    handle_hash: str
    browser_hash: str
    # None when no account can be reset under the name given: the pages look the same.
    user_id: str | None
    # HMAC of the name given, known or not: its budget of wrong codes across resets.
    name_hash: str
    locale: str
    created_at: datetime
    expires_at: datetime
    # HMAC of the login in progress the reset started from; the handle itself stays in the
    # browser, which brings it back at the end.
    interaction_hash: str | None = None
    # The app of that login, which the code SMS names.
    client_id: str | None = None
    # None while no code could be sent (a name of nobody, a spent SMS budget): nothing is right.
    code_hash: str | None = None
    code_expires_at: datetime | None = None
    code_attempts: int = 0
    code_sends: int = 0
    code_sent_at: datetime | None = None
    code_verified_at: datetime | None = None
    # Accounts that require two factors also confirm a one-time link sent to their e-mail.
    email_token_hash: str | None = None
    email_expires_at: datetime | None = None
    email_confirmed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Passkey:
    """A WebAuthn credential (a passkey) registered to a user."""

    # Our own random id (what the account page and `idplus user passkeys --remove` name).
    id: str
    user_id: str
    # The authenticator's credential id, base64url without padding (unique).
    credential_id: str
    # The COSE public key, as the authenticator sent it.
    public_key: bytes
    sign_count: int
    # Hints for the browser ("internal", "hybrid", "usb" …), as the browser reported them.
    transports: tuple[str, ...]
    # The credential may be synced to other devices (BE flag) and is (BS flag).
    backup_eligible: bool
    backed_up: bool
    # The authenticator model's AAGUID ("00000000-…" when it reports none).
    aaguid: str
    # Attested against the operator's roots and bound to one device: the only kind that
    # reaches aal.3 (self-reported flags prove nothing).
    hardware_attested: bool
    # The user's own name for it, plain text (at most 64 characters).
    name: str
    created_at: datetime
    last_used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WebAuthnChallenge:
    """A challenge handed to a browser, kept only as an HMAC and bound to what asked for it."""

    id_hash: str
    # "register" | "login"
    purpose: str
    # HMAC of the login in progress (login) or the account session (register).
    binding_hash: str
    expires_at: datetime
    # The user it was issued for (registration, step-up); None for a username-less login.
    user_id: str | None = None


# A company member's role: admins invite and remove members; developers manage apps.
COMPANY_ADMIN = "admin"
COMPANY_DEVELOPER = "developer"
COMPANY_ROLES = (COMPANY_ADMIN, COMPANY_DEVELOPER)


@dataclass(frozen=True, slots=True)
class Company:
    """A developer portal company: the owner of apps, with admins and developers."""

    id: str
    name: str
    created_at: datetime
    # "user:<id>" or "client:<id>" (the audit trail's actor names).
    created_by: str


@dataclass(frozen=True, slots=True)
class Membership:
    company_id: str
    user_id: str
    role: str
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class Invitation:
    """An e-mailed, single-use link to join a company; only the link's HMAC is stored."""

    id: str
    company_id: str
    email: str
    role: str
    token_hash: str
    invited_by: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None
    accepted_by: str | None = None


SUBSCRIPTION_PENDING = "pending"
SUBSCRIPTION_APPROVED = "approved"
SUBSCRIPTION_REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class SubscriptionRequest:
    """An app's request for an API product's `api:` scope, decided by an operator."""

    id: str
    client_id: str
    scope: str
    status: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks a `manage/` use-case for something (the admin API's token holder, a portal or
    console login, the CLI); `manage/access.py` says what each may do."""

    # How the audit trail names who made a change: "client:<id>", "user:<id>"; None for the
    # CLI (the operator at the server's console).
    actor: str | None
    # The user behind a portal or console login; None for clients and the CLI.
    user_id: str | None = None
    operator: bool = False

    @classmethod
    def command_line(cls) -> Caller:
        return cls(actor=None, operator=True)

    @classmethod
    def admin_client(cls, client_id: str) -> Caller:
        return cls(actor=f"client:{client_id}", operator=True)

    @classmethod
    def user(cls, user_id: str, *, operator: bool) -> Caller:
        return cls(actor=f"user:{user_id}", user_id=user_id, operator=operator)
