"""The schema. Alembic migrations under store/migrations build exactly this."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would otherwise hand back naive ones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _id(name: str = "id") -> sa.Column[str]:
    return sa.Column(name, sa.String(64), primary_key=True)


def _client_fk(nullable: bool = False) -> sa.Column[str]:
    return sa.Column(
        "client_id",
        sa.String(200),
        sa.ForeignKey("clients.client_id", ondelete="CASCADE"),
        nullable=nullable,
        index=True,
    )


def _user_fk(nullable: bool = False) -> sa.Column[str]:
    return sa.Column(
        "user_id",
        sa.String(64),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=nullable,
        index=True,
    )


def _session_fk() -> sa.Column[str]:
    return sa.Column(
        "session_id",
        sa.String(64),
        sa.ForeignKey("sso_sessions.id", ondelete="SET NULL"),
        nullable=True,
        index=True,
    )


def _authentication() -> list[sa.Column[Any]]:
    """What a login established, copied onto everything issued from it."""
    return [
        sa.Column("auth_time", UTCDateTime(), nullable=True),
        sa.Column("acr", sa.String(100), nullable=True),
        sa.Column("amr", sa.JSON(), nullable=False, default=list),
        sa.Column("idp", sa.String(100), nullable=True),
    ]


def _now() -> datetime:
    return datetime.now(UTC)


server_secrets = sa.Table(
    "server_secrets",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False, default=_now),
)

clients = sa.Table(
    "clients",
    metadata,
    sa.Column("client_id", sa.String(200), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("client_type", sa.String(32), nullable=False),
    sa.Column("redirect_uris", sa.JSON(), nullable=False),
    sa.Column("post_logout_redirect_uris", sa.JSON(), nullable=False),
    sa.Column("scopes", sa.JSON(), nullable=False),
    sa.Column("grant_types", sa.JSON(), nullable=False),
    sa.Column("response_types", sa.JSON(), nullable=False),
    sa.Column("api_access", sa.Boolean(), nullable=False, default=False),
    sa.Column("silent_sso", sa.Boolean(), nullable=False, default=False),
    sa.Column("one_telenor", sa.Boolean(), nullable=False, default=False),
    sa.Column("update_at_claims", sa.Boolean(), nullable=False, default=False),
    sa.Column("ciba_enabled", sa.Boolean(), nullable=False, default=False),
    sa.Column("backchannel_logout_uri", sa.Text(), nullable=True),
    # CIBA ping mode: where idplus tells the client that a request was decided.
    sa.Column("backchannel_client_notification_endpoint", sa.Text(), nullable=True),
    sa.Column("environment", sa.String(16), nullable=False, default="test"),
    sa.Column("providers", sa.JSON(), nullable=False),
    # Token exchange: whose access tokens the client may exchange (NULL: any client's).
    sa.Column("exchange_from", sa.JSON(), nullable=True),
    sa.Column("access_token_lifetime", sa.Integer(), nullable=True),
    sa.Column("id_token_lifetime", sa.Integer(), nullable=True),
    # RFC 9126 §6 require_pushed_authorization_requests.
    sa.Column(
        "require_pushed_authorization_requests",
        sa.Boolean(),
        nullable=False,
        server_default=sa.false(),
    ),
    # NULL: by the client type; "private_key_jwt": assertions checked with jwks or jwks_uri.
    sa.Column("token_endpoint_auth_method", sa.String(32), nullable=True),
    sa.Column("jwks", sa.JSON(), nullable=True),
    sa.Column("jwks_uri", sa.Text(), nullable=True),
    # RFC 9449: DPoP proofs required at the token endpoint.
    sa.Column("require_dpop", sa.Boolean(), nullable=False, server_default=sa.false()),
    # The JWS algorithm of the client's ID, access and logout tokens.
    sa.Column("signing_alg", sa.String(16), nullable=False, server_default="RS256"),
    # NULL, or "fapi2" (the FAPI 2.0 Security Profile enforced).
    sa.Column("profile", sa.String(16), nullable=True),
    # An app of the developer portal belongs to one company; NULL for operators' clients.
    sa.Column(
        "company_id",
        sa.String(64),
        sa.ForeignKey("companies.id", ondelete="RESTRICT"),
        nullable=True,
        index=True,
    ),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# private_key_jwt assertions seen, until they expire (RFC 7523 §3 item 7): the insert of the
# keyed hash of client_id and jti is the replay check, on every instance at once.
client_assertion_jtis = sa.Table(
    "client_assertion_jtis",
    metadata,
    sa.Column("jti_hash", sa.String(64), primary_key=True),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

# DPoP proofs seen, until they can no longer be accepted (RFC 9449 §11.1): the insert of the
# keyed hash of the key's thumbprint and jti is the replay check, on every instance at once.
dpop_proof_jtis = sa.Table(
    "dpop_proof_jtis",
    metadata,
    sa.Column("jti_hash", sa.String(64), primary_key=True),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

client_secrets = sa.Table(
    "client_secrets",
    metadata,
    _id(),
    _client_fk(),
    sa.Column("secret_hash", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # A rotated-out secret works until then (the overlap); NULL: until revoked or rotated out.
    sa.Column("expires_at", UTCDateTime(), nullable=True),
)

users = sa.Table(
    "users",
    metadata,
    _id(),
    sa.Column("username", sa.String(320), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text(), nullable=False),
    # Indexed: an upstream login may link to the local user with this e-mail or phone number.
    sa.Column("phone_number", sa.String(32), nullable=True, index=True),
    sa.Column("email", sa.String(320), nullable=True, index=True),
    sa.Column("given_name", sa.String(200), nullable=True),
    sa.Column("family_name", sa.String(200), nullable=True),
    sa.Column("birthdate", sa.Date(), nullable=True),
    sa.Column("kurtid", sa.String(64), nullable=False, unique=True),
    sa.Column("analytics_uuid", sa.String(64), nullable=False, unique=True),
    sa.Column("ial", sa.SmallInteger(), nullable=False, default=0),
    sa.Column("otp_required", sa.Boolean(), nullable=False, default=False),
    # Locked by an operator: no login, no refresh, until unlocked. NULL: not locked.
    sa.Column("disabled_at", UTCDateTime(), nullable=True),
    sa.Column("legacy", sa.JSON(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

user_profiles = sa.Table(
    "user_profiles",
    metadata,
    sa.Column("tnuid", sa.String(64), primary_key=True),
    _user_fk(),
    # 0 is the account's main profile.
    sa.Column("position", sa.Integer(), nullable=False),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(64), primary_key=True),
    sa.Column("alg", sa.String(16), nullable=False),
    sa.Column("private_pem", sa.LargeBinary(), nullable=False),
    sa.Column("public_jwk", sa.JSON(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("activate_at", UTCDateTime(), nullable=False),
    sa.Column("publish_until", UTCDateTime(), nullable=True),
)

sso_sessions = sa.Table(
    "sso_sessions",
    metadata,
    _id(),
    _user_fk(),
    # "one_telenor" for the shared group, otherwise "client:<client_id>".
    sa.Column("sso_group", sa.String(220), nullable=False),
    # HMAC of the cookie handle: the cookie is never stored, and `id` (the public `sid` of
    # tokens) is not a cookie. Rotated at every login; NULL once no cookie can reach it.
    sa.Column("handle_hash", sa.String(64), nullable=True, unique=True),
    *_authentication(),
    sa.Column("persistent", sa.Boolean(), nullable=False, default=False),
    # Each use moves expires_at to now + lifetime (never backwards).
    sa.Column("lifetime_seconds", sa.Integer(), nullable=False, server_default="36000"),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_seen_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    sa.Column("ended_at", UTCDateTime(), nullable=True),
    # The user's `sub` at the upstream provider the login came from (`extsub`); NULL for local.
    sa.Column("upstream_subject", sa.String(255), nullable=True),
    # The User-Agent header of the login that opened the session (truncated), for the account page.
    sa.Column("user_agent", sa.String(512), nullable=True),
    # The passkey the session's login used: removing it ends the session. No foreign key: an
    # ended session keeps naming the passkey it came from after the passkey is gone.
    sa.Column("passkey_id", sa.String(64), nullable=True, index=True),
)

session_clients = sa.Table(
    "session_clients",
    metadata,
    sa.Column(
        "session_id",
        sa.String(64),
        sa.ForeignKey("sso_sessions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "client_id",
        sa.String(200),
        sa.ForeignKey("clients.client_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("first_seen_at", UTCDateTime(), nullable=False),
)

authorization_codes = sa.Table(
    "authorization_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    _client_fk(),
    _user_fk(),
    _session_fk(),
    # Ties the code to every token its exchange issues, so a replay can revoke them.
    sa.Column("grant_id", sa.String(64), nullable=False, index=True),
    sa.Column("redirect_uri", sa.Text(), nullable=False),
    sa.Column("scopes", sa.JSON(), nullable=False),
    sa.Column("nonce", sa.Text(), nullable=True),
    sa.Column("code_challenge", sa.String(128), nullable=True),
    sa.Column("code_challenge_method", sa.String(16), nullable=True),
    *_authentication(),
    sa.Column("claims", sa.JSON(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # Indexed for the prune, which deletes expired codes oldest first (migration 0026).
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
    sa.Column("used_at", UTCDateTime(), nullable=True),
    # The access token the exchange issued, so that a replay of the code can revoke it.
    sa.Column("access_token_jti", sa.String(64), nullable=True),
    sa.Column("access_token_expires_at", UTCDateTime(), nullable=True),
    # RFC 9449 §10: the DPoP key thumbprint that alone may redeem the code.
    sa.Column("dpop_jkt", sa.String(64), nullable=True),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    _id(),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("family_id", sa.String(64), nullable=False, index=True),
    sa.Column("parent_id", sa.String(64), nullable=True),
    sa.Column("grant_id", sa.String(64), nullable=True, index=True),
    _client_fk(),
    _user_fk(),
    _session_fk(),
    sa.Column("scopes", sa.JSON(), nullable=False),
    sa.Column("policy", sa.String(32), nullable=False),
    *_authentication(),
    sa.Column("tnuid", sa.String(64), nullable=True),
    sa.Column("issued_at", UTCDateTime(), nullable=False),
    # Written once: a sliding policy slides by rotating to a new row. Indexed for the prune,
    # which deletes expired tokens oldest first (migration 0026).
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
    # Hard ceiling counted from the login.
    sa.Column("absolute_expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime(), nullable=True),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    # The front that issued it, and the only one that accepts it: "connect" or "gateway".
    sa.Column("front", sa.String(16), nullable=False, server_default="connect"),
    # RFC 9449 §5: a public client's refresh token works only with a proof of this key.
    sa.Column("dpop_jkt", sa.String(64), nullable=True),
)

device_requests = sa.Table(
    "device_requests",
    metadata,
    sa.Column("device_code_hash", sa.String(64), primary_key=True),
    sa.Column("user_code", sa.String(16), nullable=False, unique=True),
    _client_fk(),
    _user_fk(nullable=True),
    _session_fk(),
    sa.Column("scopes", sa.JSON(), nullable=False),
    # pending → approved | denied → used
    sa.Column("status", sa.String(16), nullable=False),
    *_authentication(),
    sa.Column("interval", sa.Integer(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("last_polled_at", UTCDateTime(), nullable=True),
)

ciba_requests = sa.Table(
    "ciba_requests",
    metadata,
    # The auth_req_id the client polls with, as an HMAC.
    sa.Column("auth_req_id_hash", sa.String(64), primary_key=True),
    _client_fk(),
    _user_fk(),
    _session_fk(),
    # "vipps" (approve in the app) or "bankid" (BankID-style, two factors).
    sa.Column("flow", sa.String(16), nullable=False),
    sa.Column("scopes", sa.JSON(), nullable=False),
    sa.Column("binding_message", sa.String(64), nullable=True),
    # The approval link's token (sent by SMS), as an HMAC; the first browser to open it.
    sa.Column("approval_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("browser_hash", sa.String(64), nullable=True),
    # Ping mode: the auth_req_id and client_notification_token, sealed (crypto.secrets).
    sa.Column("ping_sealed", sa.Text(), nullable=True),
    # pending → approved | denied; approved → used
    sa.Column("status", sa.String(16), nullable=False),
    *_authentication(),
    sa.Column("interval", sa.Integer(), nullable=False),
    sa.Column("next_poll_at", UTCDateTime(), nullable=False),
    sa.Column("polled", sa.Boolean(), nullable=False, default=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

revoked_access_tokens = sa.Table(
    "revoked_access_tokens",
    metadata,
    sa.Column("jti", sa.String(64), primary_key=True),
    # Kept until the token would have expired anyway.
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("at", UTCDateTime(), nullable=False, index=True),
    sa.Column("event", sa.String(64), nullable=False),
    # No foreign keys: the trail outlives the clients and users it mentions.
    sa.Column("client_id", sa.String(200), nullable=True),
    sa.Column("user_id", sa.String(64), nullable=True),
    sa.Column("detail", sa.JSON(), nullable=False),
    # Who made the change (detail's "actor": "client:…", "user:…"); NULL for the CLI and for
    # what users do themselves (their id is user_id).
    sa.Column("actor", sa.String(250), nullable=True),
    # What it is about, beyond client_id and user_id: "company:…", "api_product:…".
    sa.Column("target", sa.String(250), nullable=True),
    sa.Index("ix_audit_events_actor_id", "actor", "id"),
    sa.Index("ix_audit_events_target_id", "target", "id"),
    # `idplus audit list` filters, newest first (migration 0017): by actor, and by event name
    # or name prefix (LIKE 'user.%': PostgreSQL needs pattern ops for that under a collation).
    sa.Index("ix_audit_events_user_id_id", "user_id", "id"),
    sa.Index("ix_audit_events_client_id_id", "client_id", "id"),
    sa.Index(
        "ix_audit_events_event_id", "event", "id", postgresql_ops={"event": "varchar_pattern_ops"}
    ),
)

api_products = sa.Table(
    "api_products",
    metadata,
    sa.Column("scope", sa.String(200), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

upstream_providers = sa.Table(
    "upstream_providers",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("issuer", sa.String(500), nullable=False),
    sa.Column("client_id", sa.String(255), nullable=False),
    # crypto.secrets stored form: encrypted under the key-encryption key when one is set.
    sa.Column("client_secret", sa.Text(), nullable=True),
    sa.Column("scopes", sa.JSON(), nullable=False),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("acr", sa.String(64), nullable=True),
    sa.Column("amr", sa.JSON(), nullable=False),
    sa.Column("link_by", sa.String(16), nullable=False),
    sa.Column("token_auth_method", sa.String(32), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # The upstream claim that tells the identity assurance, and its values → our IAL (0-3).
    sa.Column("ial_claim", sa.String(100), nullable=True),
    sa.Column("ial_values", sa.JSON(), nullable=True),
)

api_product_clients = sa.Table(
    "api_product_clients",
    metadata,
    sa.Column(
        "scope",
        sa.String(200),
        sa.ForeignKey("api_products.scope", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "client_id",
        sa.String(200),
        sa.ForeignKey("clients.client_id", ondelete="CASCADE"),
        primary_key=True,
    ),
)

interactions = sa.Table(
    "interactions",
    metadata,
    # HMAC of the interaction handle carried in the login pages' URLs.
    sa.Column("id_hash", sa.String(64), primary_key=True),
    # HMAC of the browser cookie that started it: another browser cannot continue it.
    sa.Column("browser_hash", sa.String(64), nullable=False),
    _client_fk(),
    sa.Column("request", sa.JSON(), nullable=False),
    # select_provider → login → otp → done; or continue / step_up for a known session
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("provider", sa.String(100), nullable=True),
    _user_fk(nullable=True),
    _session_fk(),
    sa.Column("remember_me", sa.Boolean(), nullable=False, default=False),
    sa.Column("amr", sa.JSON(), nullable=False),
    sa.Column("otp_hash", sa.String(64), nullable=True),
    sa.Column("otp_expires_at", UTCDateTime(), nullable=True),
    # Wrong codes in this login, across resends.
    sa.Column("otp_attempts", sa.Integer(), nullable=False, default=0),
    # Codes sent in this login, and when the last one went out.
    sa.Column("otp_sends", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("otp_sent_at", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
    # An upstream login in progress: HMAC of its `state`, its nonce and PKCE verifier.
    sa.Column("upstream_state_hash", sa.String(64), nullable=True, unique=True),
    sa.Column("upstream_nonce", sa.String(100), nullable=True),
    sa.Column("upstream_verifier", sa.String(100), nullable=True),
    # The passkey a login was verified with (stage passkey_verified), until GET /login ends it.
    sa.Column("passkey_id", sa.String(64), nullable=True),
)

upstream_accounts = sa.Table(
    "upstream_accounts",
    metadata,
    # No foreign key to the provider: its accounts outlive a removed provider's row.
    sa.Column("provider_id", sa.String(64), primary_key=True),
    sa.Column("subject", sa.String(255), primary_key=True),
    _user_fk(),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# What ending a session at its upstream needs: the upstream ID token (`id_token_hint` of the
# upstream's end_session_endpoint) and refresh token (RFC 7009 revocation), the latter sealed
# like provider secrets (crypto.secrets).
upstream_session_tokens = sa.Table(
    "upstream_session_tokens",
    metadata,
    sa.Column(
        "session_id",
        sa.String(64),
        sa.ForeignKey("sso_sessions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("provider_id", sa.String(64), nullable=False),
    sa.Column("id_token", sa.Text(), nullable=False),
    sa.Column("refresh_token", sa.Text(), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# A browser on its way through upstream logouts: the `state` (as an HMAC) idplus gave the
# upstream's end_session_endpoint → where /federation/{id}/logged-out sends the browser next.
upstream_logouts = sa.Table(
    "upstream_logouts",
    metadata,
    sa.Column("state_hash", sa.String(64), primary_key=True),
    sa.Column("provider_id", sa.String(64), nullable=False),
    sa.Column("next_url", sa.Text(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)

# Upstream accounts a user disconnected: never linked to that user again by `--link-by`.
upstream_unlinks = sa.Table(
    "upstream_unlinks",
    metadata,
    sa.Column("provider_id", sa.String(64), primary_key=True),
    sa.Column("subject", sa.String(255), primary_key=True),
    sa.Column(
        "user_id",
        sa.String(64),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)

login_throttle = sa.Table(
    "login_throttle",
    metadata,
    # "username:<normalised>", "ip:<address>", "sms-login:<phone>" …; unknown usernames are
    # counted the same way. `failures` counts the attempts reserved in the window that began
    # at `window_started_at` (failed ones, and ones still in flight).
    sa.Column("key", sa.String(400), primary_key=True),
    sa.Column("failures", sa.Integer(), nullable=False),
    sa.Column("window_started_at", UTCDateTime(), nullable=False),
)

gateway_tokens = sa.Table(
    "gateway_tokens",
    metadata,
    # HMAC of the opaque token; the token itself is never stored.
    sa.Column("token_hash", sa.String(64), primary_key=True),
    # "access" or "refresh"
    sa.Column("kind", sa.String(16), nullable=False),
    _client_fk(),
    _user_fk(nullable=True),
    sa.Column("scopes", sa.JSON(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    # The authorization (a code exchange …) it came from: a replayed code revokes by it.
    sa.Column("grant_id", sa.String(64), nullable=True, index=True),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    # The durable outbox: outbound messages any instance sends, with retries, exactly once
    # claimed at a time (back-channel logout tokens now; CIBA pings and e-mails next).
    _id(),
    # "backchannel_logout", …: which sender handles it.
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("target", sa.Text(), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
    # For the logs: which client or user the delivery is for.
    sa.Column("subject", sa.String(200), nullable=True),
    # "pending" → "delivered" | "failed" (given up)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False, index=True),
    # While set and in the future, one instance is sending it; afterwards anyone may retry.
    sa.Column("claimed_until", UTCDateTime(), nullable=True),
    sa.Column("last_error", sa.String(200), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
)

# Forgotten passwords being reset (ui/password_reset.py): one row per reset, deleted when the
# new password is set; the handle, SMS code and e-mail link are HMACs, never the values.
password_resets = sa.Table(
    "password_resets",
    metadata,
    _id(),
    sa.Column("handle_hash", sa.String(64), nullable=False, unique=True),
    # HMAC of the browser cookie that started it: another browser cannot go on with it.
    sa.Column("browser_hash", sa.String(64), nullable=False),
    # NULL when the name given belongs to no account that can be reset (the flow looks alike).
    _user_fk(nullable=True),
    # HMAC of the name given (known or not): the key of its budget of wrong codes.
    sa.Column("name_hash", sa.String(64), nullable=False),
    sa.Column("locale", sa.String(8), nullable=False),
    # HMAC of the login in progress it started from; the handle itself stays in the browser.
    sa.Column("interaction_hash", sa.String(64), nullable=True),
    # The app of that login. No foreign key: a deleted client need not end a reset (its code
    # SMS then names no app).
    sa.Column("client_id", sa.String(200), nullable=True),
    sa.Column("code_hash", sa.String(64), nullable=True),
    sa.Column("code_expires_at", UTCDateTime(), nullable=True),
    sa.Column("code_attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("code_sends", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("code_sent_at", UTCDateTime(), nullable=True),
    sa.Column("code_verified_at", UTCDateTime(), nullable=True),
    sa.Column("email_token_hash", sa.String(64), nullable=True, unique=True),
    sa.Column("email_expires_at", UTCDateTime(), nullable=True),
    sa.Column("email_confirmed_at", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

# WebAuthn credentials (passkeys) of users (protocol/passkeys).
passkeys = sa.Table(
    "passkeys",
    metadata,
    _id(),
    _user_fk(),
    # base64url of the authenticator's credential id (at most 1023 bytes, WebAuthn §5.1).
    sa.Column("credential_id", sa.String(1400), nullable=False, unique=True),
    # The COSE public key as the authenticator sent it.
    sa.Column("public_key", sa.LargeBinary(), nullable=False),
    sa.Column("sign_count", sa.BigInteger(), nullable=False),
    sa.Column("transports", sa.JSON(), nullable=False),
    sa.Column("backup_eligible", sa.Boolean(), nullable=False),
    sa.Column("backed_up", sa.Boolean(), nullable=False),
    sa.Column("aaguid", sa.String(36), nullable=False),
    sa.Column("hardware_attested", sa.Boolean(), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_used_at", UTCDateTime(), nullable=True),
)

# WebAuthn challenges handed out and not yet used: one live per purpose and binding (the
# unique index the issuing upsert replaces on), deleted by the one statement that uses it (a
# challenge answers once, even to parallel verifies).
# Authorization requests pushed to /connect/par (RFC 9126), each taken back once.
pushed_requests = sa.Table(
    "pushed_requests",
    metadata,
    # HMAC of the request_uri's random part; the request_uri itself is never stored.
    sa.Column("request_uri_hash", sa.String(64), primary_key=True),
    _client_fk(),
    # The validated `models.AuthorizationRequest`, as the login pages will carry it.
    sa.Column("request", sa.JSON(), nullable=False),
    # No ui_locales was pushed: the pages follow the browser's language.
    sa.Column("locale_from_browser", sa.Boolean(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

webauthn_challenges = sa.Table(
    "webauthn_challenges",
    metadata,
    # HMAC of the challenge; the challenge itself is never stored.
    sa.Column("id_hash", sa.String(64), primary_key=True),
    # "register" | "login"
    sa.Column("purpose", sa.String(16), nullable=False),
    # HMAC of the login in progress (login) or of the account session (register).
    sa.Column("binding_hash", sa.String(64), nullable=False),
    # No foreign key: a challenge of a removed user simply never verifies.
    sa.Column("user_id", sa.String(64), nullable=True),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
    sa.Index("ux_webauthn_challenges_purpose_binding_hash", "purpose", "binding_hash", unique=True),
)

# Roles a user holds on the hub itself ("operator": the console and the whole admin API).
user_roles = sa.Table(
    "user_roles",
    metadata,
    sa.Column(
        "user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("role", sa.String(32), primary_key=True),
    sa.Column("granted_at", UTCDateTime(), nullable=False),
)

# The developer portal's companies, their members and invitations.
companies = sa.Table(
    "companies",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # Who created it ("user:<id>" or "client:<id>"), for the record.
    sa.Column("created_by", sa.String(250), nullable=False),
)

company_members = sa.Table(
    "company_members",
    metadata,
    sa.Column(
        "company_id",
        sa.String(64),
        sa.ForeignKey("companies.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "user_id",
        sa.String(64),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
    # "admin" (invites and removes members) | "developer"
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("joined_at", UTCDateTime(), nullable=False),
)

company_invitations = sa.Table(
    "company_invitations",
    metadata,
    _id(),
    sa.Column(
        "company_id",
        sa.String(64),
        sa.ForeignKey("companies.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    # HMAC of the link's secret; the link itself is only in the message sent.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("invited_by", sa.String(250), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
    # Set once, by the one acceptance that wins (a conditional UPDATE).
    sa.Column("accepted_at", UTCDateTime(), nullable=True),
    sa.Column("accepted_by", sa.String(64), nullable=True),
)

# An app's request to use an API product: pending → approved | rejected (by an operator).
subscription_requests = sa.Table(
    "subscription_requests",
    metadata,
    _id(),
    _client_fk(),
    sa.Column(
        "scope",
        sa.String(200),
        sa.ForeignKey("api_products.scope", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("requested_by", sa.String(250), nullable=False),
    sa.Column("requested_at", UTCDateTime(), nullable=False),
    sa.Column("decided_by", sa.String(250), nullable=True),
    sa.Column("decided_at", UTCDateTime(), nullable=True),
    sa.Column("reason", sa.String(500), nullable=True),
    # One pending request per app and product, also when two are sent at once.
    sa.Index(
        "ux_subscription_requests_pending",
        "client_id",
        "scope",
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    ),
)

# One row: a number that every change to the registries (clients, their secrets, API products
# and subscribers, signing keys, upstream providers) raises in the changing transaction —
# database triggers do it (migration 0025), so no write path can forget. Every worker polls it
# and drops its cached clients, keys and providers when it moved.
registry_generation = sa.Table(
    "registry_generation",
    metadata,
    sa.Column("id", sa.SmallInteger(), primary_key=True, autoincrement=False),
    sa.Column("generation", sa.BigInteger(), nullable=False),
)
# The tables whose changes raise it.
REGISTRY_TABLES = (
    "clients",
    "client_secrets",
    "api_products",
    "api_product_clients",
    "signing_keys",
    "upstream_providers",
)
