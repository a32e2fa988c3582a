"""The SPEC's client and refresh tables (SPEC §1–2) as data.

Everything that depends on a client's type reads it from `CLIENT_TYPE_RULES`; nothing else in
the code branches on the type's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class ClientType(StrEnum):
    UNDEFINED = "Undefined"
    PUBLIC = "Public"
    PUBLIC_WITH_REFRESH = "PublicWithRefresh"
    CONFIDENTIAL = "Confidential"
    MOBILE_APP = "MobileApp"


class OAuthClientType(StrEnum):
    """RFC 6749 §2.1: can the client keep a secret?"""

    PUBLIC = "public"
    CONFIDENTIAL = "confidential"


class RefreshPolicyName(StrEnum):
    NO_REFRESH = "NoRefresh"
    CONFIDENTIAL = "Confidential"
    MOBILE = "Mobile"
    PUBLIC_WEB = "PublicWeb"
    WEB = "Web"


@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    name: RefreshPolicyName
    issues_refresh_token: bool
    # Sliding: each refresh starts the lifetime again. Fixed: the token dies `lifetime` after login.
    sliding: bool
    lifetime: timedelta
    # Public clients cannot prove possession, so their refresh tokens are one-use (RFC 9700 §4.14).
    rotates: bool


_PUBLIC_WEB = RefreshPolicy(
    RefreshPolicyName.PUBLIC_WEB, True, sliding=True, lifetime=timedelta(minutes=10), rotates=True
)

REFRESH_POLICIES: dict[RefreshPolicyName, RefreshPolicy] = {
    RefreshPolicyName.NO_REFRESH: RefreshPolicy(
        RefreshPolicyName.NO_REFRESH, False, sliding=False, lifetime=timedelta(0), rotates=False
    ),
    RefreshPolicyName.CONFIDENTIAL: RefreshPolicy(
        RefreshPolicyName.CONFIDENTIAL,
        True,
        sliding=False,
        lifetime=timedelta(days=14),
        rotates=False,
    ),
    RefreshPolicyName.MOBILE: RefreshPolicy(
        RefreshPolicyName.MOBILE, True, sliding=True, lifetime=timedelta(days=90), rotates=True
    ),
    RefreshPolicyName.PUBLIC_WEB: _PUBLIC_WEB,
    # "Web" is an alias kept for clients registered under the old name.
    RefreshPolicyName.WEB: _PUBLIC_WEB,
}


@dataclass(frozen=True, slots=True)
class ClientTypeRules:
    oauth_type: OAuthClientType
    refresh_policy: RefreshPolicy
    # RFC 8252 §7.1: only native apps may register private-use URI scheme redirects.
    allows_private_use_redirects: bool
    # SPEC §6: lifetime of the SSO cookie a login through this client sets; None = browser session.
    sso_cookie_lifetime: timedelta | None

    @property
    def is_confidential(self) -> bool:
        return self.oauth_type is OAuthClientType.CONFIDENTIAL


# Undefined is deliberately absent: it is reserved and never valid for a request.
CLIENT_TYPE_RULES: dict[ClientType, ClientTypeRules] = {
    ClientType.PUBLIC: ClientTypeRules(
        OAuthClientType.PUBLIC,
        REFRESH_POLICIES[RefreshPolicyName.NO_REFRESH],
        allows_private_use_redirects=False,
        sso_cookie_lifetime=None,
    ),
    ClientType.PUBLIC_WITH_REFRESH: ClientTypeRules(
        OAuthClientType.PUBLIC,
        REFRESH_POLICIES[RefreshPolicyName.PUBLIC_WEB],
        allows_private_use_redirects=False,
        sso_cookie_lifetime=None,
    ),
    ClientType.CONFIDENTIAL: ClientTypeRules(
        OAuthClientType.CONFIDENTIAL,
        REFRESH_POLICIES[RefreshPolicyName.CONFIDENTIAL],
        allows_private_use_redirects=False,
        sso_cookie_lifetime=None,
    ),
    ClientType.MOBILE_APP: ClientTypeRules(
        OAuthClientType.PUBLIC,
        REFRESH_POLICIES[RefreshPolicyName.MOBILE],
        allows_private_use_redirects=True,
        sso_cookie_lifetime=timedelta(days=90),
    ),
}

REMEMBER_ME_COOKIE_LIFETIME = timedelta(days=14)


def rules_for(client_type: ClientType) -> ClientTypeRules:
    """The rules of a usable client type; raises KeyError for Undefined."""
    return CLIENT_TYPE_RULES[client_type]


# Grant types (token endpoint `grant_type` strings) and who may hold them.
GRANT_AUTHORIZATION_CODE = "authorization_code"
GRANT_CLIENT_CREDENTIALS = "client_credentials"
GRANT_REFRESH_TOKEN = "refresh_token"
GRANT_DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
GRANT_CIBA = "urn:openid:params:grant-type:ciba"
GRANT_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
# The resource-owner password grant exists on the gateway front only.
GRANT_PASSWORD = "password"

KNOWN_GRANT_TYPES = frozenset(
    {
        GRANT_AUTHORIZATION_CODE,
        GRANT_CLIENT_CREDENTIALS,
        GRANT_REFRESH_TOKEN,
        GRANT_DEVICE_CODE,
        GRANT_CIBA,
        GRANT_TOKEN_EXCHANGE,
        GRANT_PASSWORD,
    }
)

# Grants that need a client able to keep a secret: the client acts for itself, or vouches as
# the actor of an exchanged token (RFC 8693 `act`); a client that cannot authenticate could be
# anyone.
CONFIDENTIAL_ONLY_GRANTS = frozenset(
    {GRANT_CLIENT_CREDENTIALS, GRANT_CIBA, GRANT_PASSWORD, GRANT_TOKEN_EXCHANGE}
)

# Identity scopes of SPEC §3, advertised in discovery.
# `api:` scopes live in the API-product registry instead.
IDENTITY_SCOPES = (
    "openid",
    "ial0",
    "ial1",
    "ial2",
    "profile",
    "email",
    "phone",
    "tnn.ids",
    "offline_access",
    "extsub",
    "tnn.legacy",
    "account.profiles",
    "vipps",
    "bankid",
)
API_SCOPE_PREFIX = "api:"
# The operator's scope of the admin API: only client_credentials grants it, to clients
# registered with it (`idplus client add … --scope idplus:admin`).
ADMIN_SCOPE = "idplus:admin"
# A developer's scope of the admin API: tokens of the built-in portal client carry it, and open
# only the companies the developer belongs to.
PORTAL_SCOPE = "idplus:portal"
# The user role (`idplus user grant-role U operator`) that makes a user an operator: the
# console at /admin and the whole admin API with a token of the console client.
OPERATOR_ROLE = "operator"
USER_ROLES = (OPERATOR_ROLE,)


def is_api_scope(scope: str) -> bool:
    return scope.startswith(API_SCOPE_PREFIX) and len(scope) > len(API_SCOPE_PREFIX)


# The built-in client behind idplus's own account page (like Keycloak's "account" client).
ACCOUNT_CLIENT_ID = "idplus-account"
# The built-in clients of the developer portal (/portal) and the operator console (/admin).
PORTAL_CLIENT_ID = "idplus-portal"
CONSOLE_CLIENT_ID = "idplus-console"
BUILT_IN_CLIENT_IDS = (ACCOUNT_CLIENT_ID, PORTAL_CLIENT_ID, CONSOLE_CLIENT_ID)
# After a secret rotation the older secrets keep working this long (or until revoked), so an
# app's instances can switch over without downtime; a rotation may choose 0 up to the most.
DEFAULT_SECRET_OVERLAP = timedelta(hours=24)
MAX_SECRET_OVERLAP = timedelta(days=30)
# Client ids are 1-200 characters (`idplus client add`); nothing longer names a client, and
# the columns hold no more.
MAX_CLIENT_ID_LENGTH = 200


# Assurance levels (SPEC §6): `acr` is urn:telenor.identity.aal.1|2|3.
ACR_PREFIX = "urn:telenor.identity.aal."
MAX_AAL = 3


def acr_for_level(level: int) -> str:
    return f"{ACR_PREFIX}{level}"


def level_of_acr(acr: str | None) -> int:
    """1-3 for a known acr value, 0 for anything else."""
    if acr is None or not acr.startswith(ACR_PREFIX):
        return 0
    suffix = acr[len(ACR_PREFIX) :]
    return int(suffix) if suffix in ("1", "2", "3") else 0
