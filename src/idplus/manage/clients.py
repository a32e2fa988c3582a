"""Client registration, secret rotation and removal, driven by the tables in `policies`."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from idplus.auth.providers import LOCAL_PROVIDER_ID
from idplus.clock import Clock
from idplus.crypto.client_keys import InvalidClientKeys, parse_client_jwks
from idplus.crypto.hashing import hash_client_secret, new_client_secret
from idplus.errors import NotFoundError, PreconditionFailed, ValidationError
from idplus.manage.access import refuse_last_operator_client
from idplus.manage.display_names import check_display_name
from idplus.models import (
    DEFAULT_SIGNING_ALGORITHM,
    FAPI2_ALGORITHMS,
    PRIVATE_KEY_JWT,
    PROFILE_FAPI2,
    SIGNING_ALGORITHMS,
    AuditEvent,
    Client,
    ClientSecret,
)
from idplus.policies import (
    ACCOUNT_CLIENT_ID,
    ADMIN_SCOPE,
    BUILT_IN_CLIENT_IDS,
    CLIENT_TYPE_RULES,
    CONFIDENTIAL_ONLY_GRANTS,
    CONSOLE_CLIENT_ID,
    DEFAULT_SECRET_OVERLAP,
    GRANT_AUTHORIZATION_CODE,
    GRANT_CLIENT_CREDENTIALS,
    GRANT_REFRESH_TOKEN,
    GRANT_TOKEN_EXCHANGE,
    IDENTITY_SCOPES,
    KNOWN_GRANT_TYPES,
    MAX_CLIENT_ID_LENGTH,
    MAX_SECRET_OVERLAP,
    PORTAL_CLIENT_ID,
    PORTAL_SCOPE,
    ClientType,
    ClientTypeRules,
    is_api_scope,
)
from idplus.store.base import Store, UnitOfWork
from idplus.uris import validate_registered_uri

MAX_SECRETS = 2
CLIENT_ID_PATTERN = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._~-]{{0,{MAX_CLIENT_ID_LENGTH - 1}}}$")
BASE_SCOPES = ("openid", "profile", "email", "phone")
ENVIRONMENTS = ("test", "prod")
PROVIDER_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
# OAuth 2.0 Multiple Response Type Encoding Practices, words sorted.
RESPONSE_TYPES = frozenset(
    {"code", "id_token", "id_token token", "code id_token", "code token", "code id_token token"}
)
# `--auth-method`: a client with a secret may send it either way (Basic or in the body), so the
# two secret methods register the same client.
SECRET_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
AUTH_METHODS = (*SECRET_AUTH_METHODS, PRIVATE_KEY_JWT)
PROFILES = (PROFILE_FAPI2,)
# FAPI 2.0 §5.3.2.2: no password grant; CIBA and the device flow bypass PAR and the browser.
FAPI2_GRANT_TYPES = frozenset(
    {GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, GRANT_CLIENT_CREDENTIALS, GRANT_TOKEN_EXCHANGE}
)
# A registered JWKS of 20 keys fits easily.
MAX_JWKS_CHARS = 64 * 1024


class StaleVersion(PreconditionFailed):
    """A change made against a version of the client (`client_version`) that is no longer
    current: someone else changed it in between."""


@dataclass(frozen=True, slots=True)
class ClientRegistration:
    client_id: str
    client_type: str
    name: str | None = None
    redirect_uris: Sequence[str] = ()
    post_logout_redirect_uris: Sequence[str] = ()
    scopes: Sequence[str] = ()
    grant_types: Sequence[str] = ()
    secret: str | None = None
    api_access: bool = False
    silent_sso: bool = False
    one_telenor: bool = False
    update_at_claims: bool = False
    ciba_enabled: bool = False
    backchannel_logout_uri: str | None = None
    backchannel_client_notification_endpoint: str | None = None
    exchange_from: Sequence[str] = ()
    environment: str = "test"
    # Authentication providers by id, in the order the selection page lists them.
    providers: Sequence[str] = ()
    # Beyond `code`: hybrid / implicit values such as "code id_token" (OIDC Core §3.2-3.3).
    response_types: Sequence[str] = ()
    access_token_lifetime: int | None = None
    id_token_lifetime: int | None = None
    # RFC 9126 §6: authorization requests only through /connect/par.
    require_pushed_authorization_requests: bool = False
    # One of AUTH_METHODS (None: by the type); private_key_jwt needs `jwks` (a JWKS, or its
    # JSON text) or `jwks_uri`, and then the client has no secret.
    auth_method: str | None = None
    jwks: str | Mapping[str, Any] | None = None
    jwks_uri: str | None = None
    # RFC 9449: a DPoP proof with every token request, DPoP-bound tokens only.
    require_dpop: bool = False
    # One of SIGNING_ALGORITHMS (None: RS256, or PS256 under the fapi2 profile).
    signing_alg: str | None = None
    # None or "fapi2": the profile implies PAR, private_key_jwt, DPoP and PS256 and refuses
    # what contradicts them.
    profile: str | None = None
    # The developer portal company whose app this is (manage/apps.py); None for the CLI's.
    company_id: str | None = None


@dataclass(frozen=True, slots=True)
class _ClientKeys:
    """How a registration authenticates: Client.token_endpoint_auth_method, jwks, jwks_uri."""

    auth_method: str | None = None
    jwks: Mapping[str, Any] | None = None
    jwks_uri: str | None = None


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    client: Client
    # The plaintext secret, shown once; None for clients without one.
    client_secret: str | None


def parse_client_type(value: str) -> ClientType:
    try:
        client_type = ClientType(value)
    except ValueError:
        choices = ", ".join(t.value for t in CLIENT_TYPE_RULES)
        raise ValidationError(f"unknown client type {value!r} (choose {choices})") from None
    if client_type not in CLIENT_TYPE_RULES:
        raise ValidationError("client type Undefined is reserved and never valid")
    return client_type


def build_client(reg: ClientRegistration, clock: Clock) -> RegisteredClient:
    """Validate a registration into a Client (pure apart from generating the secret)."""
    if not CLIENT_ID_PATTERN.fullmatch(reg.client_id):
        raise ValidationError(
            f"client_id must be 1-{MAX_CLIENT_ID_LENGTH} characters of letters, digits and . _ ~ - "
            "starting with a letter or digit"
        )
    client_type = parse_client_type(reg.client_type)
    rules = CLIENT_TYPE_RULES[client_type]
    reg = _apply_profile(reg, rules)
    if reg.name is not None:
        # Users read it on login, consent and CIBA pages and in SMS.
        check_display_name(reg.name, "an app's name")
    if reg.environment not in ENVIRONMENTS:
        raise ValidationError(f"environment must be one of {', '.join(ENVIRONMENTS)}")
    if reg.secret is not None and not rules.is_confidential:
        raise ValidationError(f"only Confidential clients have a secret, not {client_type}")
    if reg.ciba_enabled and not rules.is_confidential:
        raise ValidationError("only Confidential clients may use CIBA")
    if reg.exchange_from and GRANT_TOKEN_EXCHANGE not in reg.grant_types:
        raise ValidationError(f"--exchange-from needs --grant-type {GRANT_TOKEN_EXCHANGE}")
    if reg.require_pushed_authorization_requests and reg.ciba_enabled:
        raise ValidationError("--require-par is for browser logins; a CIBA client has none")
    if reg.require_dpop and reg.api_access:
        # The gateway's reference tokens are Bearer tokens (SPEC §9): nothing there binds them.
        raise ValidationError("--require-dpop: the API gateway (--api-access) issues Bearer tokens")
    if reg.require_dpop and any("token" in r.split() for r in reg.response_types):
        # An access token from the authorization endpoint could not be bound to a key.
        raise ValidationError("--require-dpop: no response type that returns a token (code only)")
    if reg.backchannel_client_notification_endpoint is not None and not reg.ciba_enabled:
        raise ValidationError("--backchannel-client-notification-endpoint needs --ciba-enabled")
    keys = _validate_client_keys(reg, rules)
    has_secret = rules.is_confidential and keys.auth_method != PRIVATE_KEY_JWT
    secret = (reg.secret or new_client_secret()) if has_secret else None
    if secret is not None and len(secret) < 16:
        raise ValidationError("a client secret must be at least 16 characters")
    client = Client(
        client_id=reg.client_id,
        name=reg.name or reg.client_id,
        client_type=client_type,
        redirect_uris=_validate_uris(reg.redirect_uris, "redirect URI", rules),
        post_logout_redirect_uris=_validate_uris(
            reg.post_logout_redirect_uris, "post-logout redirect URI", rules
        ),
        scopes=_validate_scopes(
            reg.scopes, rules, api_access=reg.api_access, ciba=reg.ciba_enabled
        ),
        grant_types=_validate_grant_types(reg.grant_types, client_type, rules),
        api_access=reg.api_access,
        silent_sso=reg.silent_sso,
        one_telenor=reg.one_telenor,
        update_at_claims=reg.update_at_claims,
        ciba_enabled=reg.ciba_enabled,
        backchannel_logout_uri=_validate_backchannel_uri(reg.backchannel_logout_uri),
        backchannel_client_notification_endpoint=_validate_backchannel_uri(
            reg.backchannel_client_notification_endpoint, "client notification endpoint"
        ),
        environment=reg.environment,
        providers=_validate_providers(reg.providers),
        exchange_from=_validate_client_ids(reg.exchange_from),
        response_types=_validate_response_types(reg.response_types),
        access_token_lifetime=_validate_lifetime(reg.access_token_lifetime, "access token"),
        id_token_lifetime=_validate_lifetime(reg.id_token_lifetime, "ID token"),
        require_pushed_authorization_requests=reg.require_pushed_authorization_requests,
        token_endpoint_auth_method=keys.auth_method,
        jwks=keys.jwks,
        jwks_uri=keys.jwks_uri,
        require_dpop=reg.require_dpop,
        signing_alg=_validate_signing_alg(reg.signing_alg),
        profile=reg.profile,
        company_id=reg.company_id,
        secrets=(_new_secret_record(secret, clock),) if secret else (),
    )
    if ADMIN_SCOPE in client.scopes and client.grant_types != (GRANT_CLIENT_CREDENTIALS,):
        # An operator is a back end: no user's token may ever carry the admin scope.
        raise ValidationError(
            f"scope {ADMIN_SCOPE} needs --grant-type client_credentials and no other grant"
        )
    return RegisteredClient(client=client, client_secret=secret)


def _apply_profile(reg: ClientRegistration, rules: ClientTypeRules) -> ClientRegistration:
    """`--profile fapi2` (FAPI 2.0 Security Profile §5): turn on what it requires, refuse what
    contradicts it, so that the stored client says plainly what is enforced."""
    if reg.profile is None:
        return reg
    if reg.profile not in PROFILES:
        raise ValidationError(f"profile must be one of {', '.join(PROFILES)}")
    if not rules.is_confidential:
        raise ValidationError("--profile fapi2 is for Confidential clients only")
    if reg.auth_method not in (None, PRIVATE_KEY_JWT):
        raise ValidationError("--profile fapi2 authenticates with private_key_jwt, not a secret")
    if reg.signing_alg is not None and reg.signing_alg.upper() not in FAPI2_ALGORITHMS:
        raise ValidationError("--profile fapi2 signs with PS256 or ES256, not " + reg.signing_alg)
    if any(" ".join(sorted(r.split())) != "code" for r in reg.response_types):
        raise ValidationError("--profile fapi2 allows response_type code only")
    if reg.ciba_enabled:
        raise ValidationError("--profile fapi2 is for browser logins through PAR, not CIBA")
    outside = [g for g in reg.grant_types if g not in FAPI2_GRANT_TYPES]
    if outside:
        raise ValidationError(f"--profile fapi2 does not allow --grant-type {outside[0]}")
    return replace(
        reg,
        auth_method=PRIVATE_KEY_JWT,
        require_pushed_authorization_requests=True,
        require_dpop=True,
        signing_alg=reg.signing_alg or FAPI2_ALGORITHMS[0],
    )


def _validate_signing_alg(signing_alg: str | None) -> str:
    if signing_alg is None:
        return DEFAULT_SIGNING_ALGORITHM
    canonical = signing_alg.upper()
    if canonical not in SIGNING_ALGORITHMS:
        raise ValidationError(f"signing alg must be one of {', '.join(SIGNING_ALGORITHMS)}")
    return canonical


def _validate_client_keys(reg: ClientRegistration, rules: ClientTypeRules) -> _ClientKeys:
    if reg.auth_method is not None and reg.auth_method not in AUTH_METHODS:
        raise ValidationError(f"auth method must be one of {', '.join(AUTH_METHODS)}")
    if reg.auth_method != PRIVATE_KEY_JWT:
        if reg.jwks is not None or reg.jwks_uri is not None:
            raise ValidationError("--jwks and --jwks-uri need --auth-method private_key_jwt")
        if reg.auth_method is not None and not rules.is_confidential:
            raise ValidationError(
                f"--auth-method {reg.auth_method}: only Confidential clients have a secret"
            )
        return _ClientKeys()
    if not rules.is_confidential:
        raise ValidationError("--auth-method private_key_jwt is for Confidential clients")
    if reg.secret is not None:
        raise ValidationError("a private_key_jwt client has no secret: drop --secret")
    if (reg.jwks is None) == (reg.jwks_uri is None):
        raise ValidationError("--auth-method private_key_jwt needs --jwks FILE or --jwks-uri URI")
    if reg.jwks_uri is not None:
        uri = validate_registered_uri(reg.jwks_uri, what="JWKS URI", allow_private_use=False)
        return _ClientKeys(PRIVATE_KEY_JWT, jwks_uri=uri)
    return _ClientKeys(PRIVATE_KEY_JWT, jwks=_parse_jwks(reg.jwks))


def _parse_jwks(jwks: str | Mapping[str, Any] | None) -> dict[str, Any]:
    if isinstance(jwks, str) and len(jwks) > MAX_JWKS_CHARS:
        raise ValidationError(f"--jwks: the file is over {MAX_JWKS_CHARS} characters")
    try:
        document = json.loads(jwks) if isinstance(jwks, str) else jwks
    except (ValueError, RecursionError):
        raise ValidationError("--jwks: the file is not JSON") from None
    try:
        return parse_client_jwks(document)
    except InvalidClientKeys as error:
        raise ValidationError(f"--jwks: {error}") from None


def _validate_uris(uris: Sequence[str], what: str, rules: ClientTypeRules) -> tuple[str, ...]:
    allow_private = rules.allows_private_use_redirects
    return tuple(
        dict.fromkeys(
            validate_registered_uri(uri, what=what, allow_private_use=allow_private) for uri in uris
        )
    )


def _validate_response_types(response_types: Sequence[str]) -> tuple[str, ...]:
    normalised = [" ".join(sorted(r.split())) for r in response_types]
    for value in normalised:
        if value not in RESPONSE_TYPES:
            raise ValidationError(
                f"unknown response type {value!r} (known: {', '.join(sorted(RESPONSE_TYPES))})"
            )
    return tuple(dict.fromkeys(["code", *normalised]))


def _validate_lifetime(seconds: int | None, what: str) -> int | None:
    if seconds is not None and not 60 <= seconds <= 86_400:
        raise ValidationError(f"the {what} lifetime must be 60-86400 seconds")
    return seconds


def _validate_providers(providers: Sequence[str]) -> tuple[str, ...]:
    for provider in providers:
        if not PROVIDER_ID_PATTERN.fullmatch(provider):
            raise ValidationError(f"provider id {provider!r} is not valid")
    return tuple(dict.fromkeys(providers))


def _validate_client_ids(client_ids: Sequence[str]) -> tuple[str, ...]:
    for client_id in client_ids:
        if not CLIENT_ID_PATTERN.fullmatch(client_id):
            raise ValidationError(f"client id {client_id!r} is not valid")
    return tuple(dict.fromkeys(client_ids))


def _validate_backchannel_uri(uri: str | None, what: str = "back-channel logout URI") -> str | None:
    if uri is None:
        return None
    return validate_registered_uri(uri, what=what, allow_private_use=False)


def _validate_scopes(
    scopes: Sequence[str], rules: ClientTypeRules, *, api_access: bool, ciba: bool = False
) -> tuple[str, ...]:
    if not scopes:
        defaults: tuple[str, ...] = BASE_SCOPES
        if ciba:
            # The mandatory scopes of the two CIBA flows (SPEC §3).
            defaults += ("vipps", "bankid")
        if rules.refresh_policy.issues_refresh_token:
            defaults += ("offline_access",)
        return defaults
    for scope in scopes:
        if scope == ADMIN_SCOPE:
            if not rules.is_confidential:
                raise ValidationError(f"scope {ADMIN_SCOPE} is for Confidential clients")
        elif is_api_scope(scope):
            if not api_access:
                raise ValidationError(f"scope {scope!r} needs an --api-access client")
        elif scope not in IDENTITY_SCOPES:
            raise ValidationError(
                f"unknown scope {scope!r} (identity scopes: {' '.join(IDENTITY_SCOPES)}; "
                "API scopes start with api:)"
            )
    if "offline_access" in scopes and not rules.refresh_policy.issues_refresh_token:
        raise ValidationError(
            f"scope offline_access: the {rules.refresh_policy.name} policy never issues "
            "refresh tokens"
        )
    return tuple(dict.fromkeys(scopes))


def _validate_grant_types(
    grant_types: Sequence[str], client_type: ClientType, rules: ClientTypeRules
) -> tuple[str, ...]:
    if not grant_types:
        defaults = [GRANT_AUTHORIZATION_CODE]
        if rules.refresh_policy.issues_refresh_token:
            defaults.append(GRANT_REFRESH_TOKEN)
        return tuple(defaults)
    for grant in grant_types:
        if grant not in KNOWN_GRANT_TYPES:
            raise ValidationError(
                f"unknown grant type {grant!r} (known: {', '.join(sorted(KNOWN_GRANT_TYPES))})"
            )
        if grant in CONFIDENTIAL_ONLY_GRANTS and not rules.is_confidential:
            raise ValidationError(f"grant type {grant} is only for Confidential clients")
        if grant == GRANT_REFRESH_TOKEN and not rules.refresh_policy.issues_refresh_token:
            raise ValidationError(
                f"grant type refresh_token: {client_type} clients follow the "
                f"{rules.refresh_policy.name} policy and never get refresh tokens"
            )
    return tuple(dict.fromkeys(grant_types))


def _new_secret_record(secret: str, clock: Clock) -> ClientSecret:
    return ClientSecret(
        id=str(uuid.uuid4()), secret_hash=hash_client_secret(secret), created_at=clock.now()
    )


def add_client(
    store: Store, clock: Clock, reg: ClientRegistration, *, actor: str | None = None
) -> RegisteredClient:
    """Register a client; `api:` scopes subscribe it to those (existing) API products.
    Returns the client as stored (its `client_version` is current). `actor`: who asked, for the
    audit trail (the admin API's caller; None from the CLI)."""
    registered = build_client(reg, clock)
    client = registered.client
    api_scopes = [s for s in client.scopes if is_api_scope(s)]
    client = replace(
        client,
        scopes=tuple(s for s in client.scopes if not is_api_scope(s)),
        api_products=tuple(api_scopes),
    )
    registered = RegisteredClient(client, registered.client_secret)
    with store.transaction() as uow:
        if uow.clients.exists(reg.client_id):
            raise ValidationError(f"client {reg.client_id!r} already exists")
        # Locked, so the company cannot be deleted (it refuses while it has apps) meanwhile.
        if reg.company_id is not None and uow.companies.find(reg.company_id, lock=True) is None:
            raise NotFoundError(f"no company {reg.company_id!r}")
        for provider in client.providers:
            # Locked, so the provider cannot be removed before this client is stored.
            if provider != LOCAL_PROVIDER_ID and not uow.upstream_providers.find(
                provider, lock=True
            ):
                raise ValidationError(
                    f"unknown provider {provider!r}: use 'local' or add it first with "
                    "idplus provider add"
                )
        for scope in api_scopes:
            if uow.api_products.find(scope) is None:
                raise ValidationError(
                    f"unknown API product {scope!r}: add it first with idplus api-product add"
                )
        if not uow.clients.insert(client, clock.now()):
            # Another registration of the same id committed after the check above.
            raise ValidationError(f"client {reg.client_id!r} already exists")
        uow.api_products.add_subscribers_to_many(api_scopes, reg.client_id)
        detail = _with_actor(_settings_of(client), actor)
        uow.audit.record(
            AuditEvent("client.added", clock.now(), client_id=reg.client_id, detail=detail)
        )
        stored = _stored(uow, reg.client_id)
    return RegisteredClient(stored, registered.client_secret)


# Not what was registered (the id is the event's own) or never in the trail (secret hashes).
_NOT_AUDITED = frozenset({"client_id", "secrets", "created_at"})


def _settings_of(client: Client) -> dict[str, Any]:
    """What a registration set, for the audit trail: everything an operator can see but the
    secrets (neither the secret nor its hash)."""
    return {k: v for k, v in describe_client(client).items() if k not in _NOT_AUDITED}


def get_client(store: Store, client_id: str) -> Client:
    with store.reading() as uow:
        client = uow.clients.find(client_id)
    if client is None:
        raise NotFoundError(f"unknown client {client_id!r}")
    return client


def list_clients(store: Store) -> list[Client]:
    with store.reading() as uow:
        return uow.clients.list_all()


def client_version(client: Client) -> str:
    """An entity tag of the client as an operator sees it (`describe_client`): any change to
    its settings or secrets gives another, so a stale copy is told apart from the current."""
    described = json.dumps(describe_client(client), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(described.encode()).hexdigest()[:32]


def _check_version(client: Client, expected_versions: Collection[str] | None) -> None:
    """None: any version will do (the CLI); else the client must still be one of these."""
    if expected_versions is not None and client_version(client) not in expected_versions:
        raise StaleVersion(
            f"client {client.client_id!r} was changed since that version was read",
            detail=f"client {client.client_id!r} is at {client_version(client)}",
        )


def _with_actor(detail: dict[str, Any], actor: str | None) -> dict[str, Any]:
    return {**detail, "actor": actor} if actor is not None else detail


def _stored(uow: UnitOfWork, client_id: str) -> Client:
    """The client as read back, so that its version is the one every later read computes."""
    client = uow.clients.find(client_id)
    assert client is not None, "read back in the transaction that wrote it"
    return client


def remove_client(
    store: Store,
    clock: Clock,
    client_id: str,
    *,
    expected_versions: Collection[str] | None = None,
    actor: str | None = None,
) -> None:
    """Remove a client and (by the store's cascade) its grants. `expected_versions`: the
    versions the caller read (If-Match); `actor`: who asked, for the audit trail."""
    if client_id in BUILT_IN_CLIENT_IDS:
        # idplus's own pages log in through it; every start would only register it again.
        raise ValidationError(f"client {client_id!r} is built in and cannot be removed")
    with store.transaction() as uow:
        client = uow.clients.find(client_id, lock=True)
        if client is None:
            raise NotFoundError(f"unknown client {client_id!r}")
        _check_version(client, expected_versions)
        refuse_last_operator_client(uow, client_id)
        if not uow.clients.delete(client_id):
            raise NotFoundError(f"unknown client {client_id!r}")
        detail = _with_actor({"type": client.client_type.value, "name": client.name}, actor)
        uow.audit.record(
            AuditEvent("client.removed", clock.now(), client_id=client_id, detail=detail)
        )


def rotate_client_secret(
    store: Store,
    clock: Clock,
    client_id: str,
    secret: str | None = None,
    *,
    overlap: timedelta = DEFAULT_SECRET_OVERLAP,
    expected_versions: Collection[str] | None = None,
    actor: str | None = None,
) -> RegisteredClient:
    """Add a new secret. Every older one keeps working for `overlap` more at most (never longer
    than it would have; 0: not at all), so that the app's instances can switch over; past
    MAX_SECRETS the oldest go at once. Returns the client as stored; `expected_versions` and
    `actor` as for `remove_client`."""
    if not timedelta(0) <= overlap <= MAX_SECRET_OVERLAP:
        raise ValidationError(
            f"the overlap must be 0-{int(MAX_SECRET_OVERLAP.total_seconds())} seconds"
        )
    with store.transaction() as uow:
        client = uow.clients.find(client_id, lock=True)
        if client is None:
            raise NotFoundError(f"unknown client {client_id!r}")
        _check_version(client, expected_versions)
        if not client.rules.is_confidential:
            raise ValidationError(f"only Confidential clients have a secret, not {client_id!r}")
        if client.uses_private_key_jwt:
            raise ValidationError(f"client {client_id!r} uses private_key_jwt and has no secret")
        plaintext = secret or new_client_secret()
        if len(plaintext) < 16:
            raise ValidationError("a client secret must be at least 16 characters")
        record = _new_secret_record(plaintext, clock)
        uow.clients.insert_secret(client_id, record)
        dropped = _end_older_secrets(uow, client, clock.now() + overlap, clock.now())
        # The secrets' record ids (never a secret or its hash): which one is new, which went.
        detail = _with_actor(
            {
                "secret_id": record.id,
                "retired_secret_ids": dropped,
                "overlap_seconds": int(overlap.total_seconds()),
            },
            actor,
        )
        uow.audit.record(
            AuditEvent("client.secret_rotated", clock.now(), client_id=client_id, detail=detail)
        )
        stored = _stored(uow, client_id)
    return RegisteredClient(client=stored, client_secret=plaintext)


def _end_older_secrets(uow: UnitOfWork, client: Client, end: datetime, now: datetime) -> list[str]:
    """Give the client's secrets (all older than the one just added) an end no later than
    `end`; delete those that no longer work and those past the MAX_SECRETS cap. Returns the
    ids deleted."""
    ended = [replace(s, expires_at=min(s.expires_at or end, end)) for s in client.secrets]
    working = [s for s in ended if s.works_at(now)]
    kept = working[max(0, len(working) - (MAX_SECRETS - 1)) :]
    kept_ids = {s.id for s in kept}
    dropped = [s.id for s in client.secrets if s.id not in kept_ids]
    uow.clients.delete_secrets(dropped)
    before = {s.id: s.expires_at for s in client.secrets}
    for secret in kept:
        if secret.expires_at != before[secret.id]:
            uow.clients.set_secret_expiry(client.client_id, secret.id, secret.expires_at)
    return dropped


def current_secret(client: Client) -> ClientSecret | None:
    """The secret the client was last given: after a rotation the only one without an end
    (older ones get one), else the newest. None for a client without secrets."""
    if not client.secrets:
        return None
    # Reversed: among equals, the one stored last.
    return max(reversed(client.secrets), key=lambda s: (s.expires_at is None, s.created_at))


def revoke_client_secret(
    store: Store,
    clock: Clock,
    client_id: str,
    secret_id: str,
    *,
    expected_versions: Collection[str] | None = None,
    actor: str | None = None,
) -> Client:
    """End an older secret now, before its overlap would (a leaked secret, a finished switch
    over). The current secret cannot be revoked: a client always keeps one (rotate instead).
    Returns the client as stored."""
    with store.transaction() as uow:
        client = uow.clients.find(client_id, lock=True)
        if client is None:
            raise NotFoundError(f"unknown client {client_id!r}")
        _check_version(client, expected_versions)
        secret = next((s for s in client.secrets if s.id == secret_id), None)
        if secret is None:
            raise NotFoundError(f"client {client_id!r} has no secret {secret_id!r}")
        if secret == current_secret(client):
            raise ValidationError(
                f"secret {secret_id!r} is the client's current one: rotate the secret first"
            )
        uow.clients.delete_secrets([secret_id])
        detail = _with_actor({"secret_id": secret_id}, actor)
        uow.audit.record(
            AuditEvent("client.secret_revoked", clock.now(), client_id=client_id, detail=detail)
        )
        return _stored(uow, client_id)


def describe_client(client: Client) -> dict[str, Any]:
    """The operator's view of a client: everything but secret hashes."""
    rules = client.rules
    return {
        "client_id": client.client_id,
        "name": client.name,
        "type": client.client_type.value,
        "oauth_client_type": rules.oauth_type.value,
        "refresh_policy": rules.refresh_policy.name.value,
        "redirect_uris": list(client.redirect_uris),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
        "scopes": list(client.scopes),
        "api_products": list(client.api_products),
        "grant_types": list(client.grant_types),
        "response_types": list(client.response_types),
        "access_token_lifetime": client.access_token_lifetime,
        "id_token_lifetime": client.id_token_lifetime,
        "require_pushed_authorization_requests": client.require_pushed_authorization_requests,
        "require_dpop": client.require_dpop,
        "signing_alg": client.signing_alg,
        "profile": client.profile,
        "token_endpoint_auth_method": _auth_method_of(client),
        "jwks": dict(client.jwks) if client.jwks is not None else None,
        "jwks_uri": client.jwks_uri,
        "api_access": client.api_access,
        "silent_sso": client.silent_sso,
        "one_telenor": client.one_telenor,
        "update_at_claims": client.update_at_claims,
        "ciba_enabled": client.ciba_enabled,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "exchange_from": list(client.exchange_from),
        "backchannel_client_notification_endpoint": (
            client.backchannel_client_notification_endpoint
        ),
        "environment": client.environment,
        "providers": list(client.providers),
        "company_id": client.company_id,
        "secrets": [_described_secret(s) for s in client.secrets],
        "created_at": client.created_at.isoformat() if client.created_at else None,
    }


def _described_secret(secret: ClientSecret) -> dict[str, Any]:
    """A secret's record (never the secret or its hash) and when it stops working (null: when
    the next rotation's overlap ends, or it is revoked)."""
    expires_at = secret.expires_at.isoformat() if secret.expires_at is not None else None
    return {"id": secret.id, "created_at": secret.created_at.isoformat(), "expires_at": expires_at}


def _auth_method_of(client: Client) -> str:
    """The RFC 7591 name of how the client authenticates (secret ones: either of the two)."""
    if client.token_endpoint_auth_method is not None:
        return client.token_endpoint_auth_method
    return SECRET_AUTH_METHODS[0] if client.rules.is_confidential else "none"


def built_in_clients(issuer: str) -> tuple[Client, ...]:
    """The clients idplus's own pages log in through (like Keycloak's "account" and
    "security-admin-console"). The portal's and the console's also give their users tokens for
    the admin API (authorization code + PKCE, back to the page's own callback)."""
    return (
        Client(
            client_id=ACCOUNT_CLIENT_ID,
            name="idplus account",
            client_type=ClientType.PUBLIC,
            scopes=("openid",),
            one_telenor=True,
        ),
        Client(
            client_id=PORTAL_CLIENT_ID,
            name="idplus developer portal",
            client_type=ClientType.PUBLIC,
            redirect_uris=(f"{issuer}/portal/callback",),
            scopes=("openid", PORTAL_SCOPE),
            grant_types=("authorization_code",),
            one_telenor=True,
        ),
        Client(
            client_id=CONSOLE_CLIENT_ID,
            name="idplus operator console",
            client_type=ClientType.PUBLIC,
            redirect_uris=(f"{issuer}/admin/callback",),
            scopes=("openid", ADMIN_SCOPE),
            grant_types=("authorization_code",),
            one_telenor=True,
        ),
    )


def ensure_built_in_clients(store: Store, clock: Clock, issuer: str) -> None:
    """Register the built-in clients, or bring them up to date (a changed issuer moves the
    callbacks). Processes starting together all succeed; one registers each."""
    with store.transaction() as uow:
        for client in built_in_clients(issuer):
            if uow.clients.insert_if_absent(client, clock.now()):
                event = "client.added"
            else:
                stored = uow.clients.find(client.client_id, lock=True)
                if stored is None or _settings_of(stored) == _settings_of(client):
                    continue
                uow.clients.update(client, clock.now())
                event = "client.changed"
            detail = {**_settings_of(client), "built_in": True}
            uow.audit.record(
                AuditEvent(event, clock.now(), client_id=client.client_id, detail=detail)
            )
