"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "api_products",
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_api_products")),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=True),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)

    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("client_type", sa.String(length=32), nullable=False),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("post_logout_redirect_uris", sa.JSON(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("grant_types", sa.JSON(), nullable=False),
        sa.Column("response_types", sa.JSON(), nullable=False),
        sa.Column("api_access", sa.Boolean(), nullable=False),
        sa.Column("silent_sso", sa.Boolean(), nullable=False),
        sa.Column("one_telenor", sa.Boolean(), nullable=False),
        sa.Column("update_at_claims", sa.Boolean(), nullable=False),
        sa.Column("ciba_enabled", sa.Boolean(), nullable=False),
        sa.Column("backchannel_logout_uri", sa.Text(), nullable=True),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("providers", sa.JSON(), nullable=False),
        sa.Column("access_token_lifetime", sa.Integer(), nullable=True),
        sa.Column("id_token_lifetime", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_clients")),
    )
    op.create_table(
        "revoked_access_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_access_tokens")),
    )
    with op.batch_alter_table("revoked_access_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_revoked_access_tokens_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_server_secrets")),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("alg", sa.String(length=16), nullable=False),
        sa.Column("private_pem", sa.LargeBinary(), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activate_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("publish_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("phone_number", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("given_name", sa.String(length=200), nullable=True),
        sa.Column("family_name", sa.String(length=200), nullable=True),
        sa.Column("birthdate", sa.Date(), nullable=True),
        sa.Column("kurtid", sa.String(length=64), nullable=False),
        sa.Column("analytics_uuid", sa.String(length=64), nullable=False),
        sa.Column("ial", sa.SmallInteger(), nullable=False),
        sa.Column("otp_required", sa.Boolean(), nullable=False),
        sa.Column("legacy", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("analytics_uuid", name=op.f("uq_users_analytics_uuid")),
        sa.UniqueConstraint("kurtid", name=op.f("uq_users_kurtid")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_product_clients",
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.client_id"],
            name=op.f("fk_api_product_clients_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scope"],
            ["api_products.scope"],
            name=op.f("fk_api_product_clients_scope_api_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("scope", "client_id", name=op.f("pk_api_product_clients")),
    )
    op.create_table(
        "client_secrets",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.client_id"],
            name=op.f("fk_client_secrets_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_secrets")),
    )
    with op.batch_alter_table("client_secrets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_client_secrets_client_id"), ["client_id"], unique=False
        )

    op.create_table(
        "sso_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("sso_group", sa.String(length=220), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acr", sa.String(length=100), nullable=True),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("idp", sa.String(length=100), nullable=True),
        sa.Column("persistent", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sso_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_sessions")),
    )
    with op.batch_alter_table("sso_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sso_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "user_profiles",
        sa.Column("tnuid", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_profiles_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tnuid", name=op.f("pk_user_profiles")),
    )
    with op.batch_alter_table("user_profiles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_profiles_user_id"), ["user_id"], unique=False)

    op.create_table(
        "authorization_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("grant_id", sa.String(length=64), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("nonce", sa.Text(), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=True),
        sa.Column("code_challenge_method", sa.String(length=16), nullable=True),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acr", sa.String(length=100), nullable=True),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("idp", sa.String(length=100), nullable=True),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.client_id"],
            name=op.f("fk_authorization_codes_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sso_sessions.id"],
            name=op.f("fk_authorization_codes_session_id_sso_sessions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_authorization_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_authorization_codes")),
    )
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_authorization_codes_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_authorization_codes_grant_id"), ["grant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_authorization_codes_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_authorization_codes_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "ciba_requests",
        sa.Column("auth_req_id_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("login_hint", sa.String(length=320), nullable=True),
        sa.Column("login_hint_token", sa.Text(), nullable=True),
        sa.Column("binding_message", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acr", sa.String(length=100), nullable=True),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("idp", sa.String(length=100), nullable=True),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.client_id"],
            name=op.f("fk_ciba_requests_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sso_sessions.id"],
            name=op.f("fk_ciba_requests_session_id_sso_sessions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_ciba_requests_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("auth_req_id_hash", name=op.f("pk_ciba_requests")),
    )
    with op.batch_alter_table("ciba_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ciba_requests_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ciba_requests_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ciba_requests_user_id"), ["user_id"], unique=False)

    op.create_table(
        "device_requests",
        sa.Column("device_code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_code", sa.String(length=16), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acr", sa.String(length=100), nullable=True),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("idp", sa.String(length=100), nullable=True),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.client_id"],
            name=op.f("fk_device_requests_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sso_sessions.id"],
            name=op.f("fk_device_requests_session_id_sso_sessions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_device_requests_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_code_hash", name=op.f("pk_device_requests")),
        sa.UniqueConstraint("user_code", name=op.f("uq_device_requests_user_code")),
    )
    with op.batch_alter_table("device_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_requests_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_device_requests_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_device_requests_user_id"), ["user_id"], unique=False)

    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("family_id", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("grant_id", sa.String(length=64), nullable=True),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("policy", sa.String(length=32), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acr", sa.String(length=100), nullable=True),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("idp", sa.String(length=100), nullable=True),
        sa.Column("tnuid", sa.String(length=64), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("absolute_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.client_id"],
            name=op.f("fk_refresh_tokens_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sso_sessions.id"],
            name=op.f("fk_refresh_tokens_session_id_sso_sessions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_refresh_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_refresh_tokens_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_refresh_tokens_family_id"), ["family_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_refresh_tokens_grant_id"), ["grant_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_refresh_tokens_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_refresh_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "session_clients",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.client_id"],
            name=op.f("fk_session_clients_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sso_sessions.id"],
            name=op.f("fk_session_clients_session_id_sso_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "client_id", name=op.f("pk_session_clients")),
    )


def downgrade() -> None:

    op.drop_table("session_clients")
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_user_id"))
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_session_id"))
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_grant_id"))
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_family_id"))
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_client_id"))

    op.drop_table("refresh_tokens")
    with op.batch_alter_table("device_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_requests_user_id"))
        batch_op.drop_index(batch_op.f("ix_device_requests_session_id"))
        batch_op.drop_index(batch_op.f("ix_device_requests_client_id"))

    op.drop_table("device_requests")
    with op.batch_alter_table("ciba_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ciba_requests_user_id"))
        batch_op.drop_index(batch_op.f("ix_ciba_requests_session_id"))
        batch_op.drop_index(batch_op.f("ix_ciba_requests_client_id"))

    op.drop_table("ciba_requests")
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authorization_codes_user_id"))
        batch_op.drop_index(batch_op.f("ix_authorization_codes_session_id"))
        batch_op.drop_index(batch_op.f("ix_authorization_codes_grant_id"))
        batch_op.drop_index(batch_op.f("ix_authorization_codes_client_id"))

    op.drop_table("authorization_codes")
    with op.batch_alter_table("user_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_profiles_user_id"))

    op.drop_table("user_profiles")
    with op.batch_alter_table("sso_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sso_sessions_user_id"))

    op.drop_table("sso_sessions")
    with op.batch_alter_table("client_secrets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_client_secrets_client_id"))

    op.drop_table("client_secrets")
    op.drop_table("api_product_clients")
    op.drop_table("users")
    op.drop_table("signing_keys")
    op.drop_table("server_secrets")
    with op.batch_alter_table("revoked_access_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revoked_access_tokens_expires_at"))

    op.drop_table("revoked_access_tokens")
    op.drop_table("clients")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))

    op.drop_table("audit_events")
    op.drop_table("api_products")
