"""the admin surface: operator roles, locked users, companies, members, invitations, apps,
secret overlaps and API subscription requests

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("actor", sa.String(length=250), nullable=True))
        batch.add_column(sa.Column("target", sa.String(length=250), nullable=True))
    op.create_index("ix_audit_events_actor_id", "audit_events", ["actor", "id"])
    # Changes made through the admin API before this version name their caller in the detail.
    if op.get_bind().dialect.name == "postgresql":
        extracted = "detail->>'actor'"
    else:
        extracted = "json_extract(detail, '$.actor')"
    # Two fixed expressions, no input: nothing to inject.
    op.execute(f"UPDATE audit_events SET actor = {extracted} WHERE {extracted} IS NOT NULL")  # noqa: S608
    op.create_index("ix_audit_events_target_id", "audit_events", ["target", "id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_roles_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "role", name=op.f("pk_user_roles")),
    )  # fmt: skip
    op.create_table(
        "companies",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_companies")),
    )
    op.create_table(
        "company_members",
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"],
            name=op.f("fk_company_members_company_id_companies"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"],
            name=op.f("fk_company_members_user_id_users"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company_id", "user_id", name=op.f("pk_company_members")),
    )  # fmt: skip
    op.create_index(op.f("ix_company_members_user_id"), "company_members", ["user_id"])
    op.create_table(
        "company_invitations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by", sa.String(length=250), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"],
            name=op.f("fk_company_invitations_company_id_companies"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_company_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_company_invitations_token_hash")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_company_invitations_company_id"), "company_invitations", ["company_id"]
    )
    op.create_index(
        op.f("ix_company_invitations_expires_at"), "company_invitations", ["expires_at"]
    )
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("company_id", sa.String(length=64), nullable=True))
        batch.create_index(batch.f("ix_clients_company_id"), ["company_id"])
        batch.create_foreign_key(
            batch.f("fk_clients_company_id_companies"), "companies", ["company_id"], ["id"],
            ondelete="RESTRICT",
        )  # fmt: skip
    with op.batch_alter_table("client_secrets") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "subscription_requests",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=250), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=250), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.client_id"],
            name=op.f("fk_subscription_requests_client_id_clients"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scope"], ["api_products.scope"],
            name=op.f("fk_subscription_requests_scope_api_products"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_requests")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_subscription_requests_client_id"), "subscription_requests", ["client_id"]
    )
    op.create_index(
        "ux_subscription_requests_pending",
        "subscription_requests",
        ["client_id", "scope"],
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )

    # Last: SQLite's batch mode rebuilds `clients` above, and a rebuilt table loses its
    # triggers. (A later migration that rebuilds a registry table must create them again:
    # tests/store/test_migrations.py checks that every registry table has them at head.)
    _create_registry_generation()


def downgrade() -> None:
    _drop_registry_generation()
    op.drop_index("ux_subscription_requests_pending", table_name="subscription_requests")
    op.drop_index(op.f("ix_subscription_requests_client_id"), table_name="subscription_requests")
    op.drop_table("subscription_requests")
    with op.batch_alter_table("client_secrets") as batch:
        batch.drop_column("expires_at")
    with op.batch_alter_table("clients") as batch:
        batch.drop_constraint(batch.f("fk_clients_company_id_companies"), type_="foreignkey")
        batch.drop_index(batch.f("ix_clients_company_id"))
        batch.drop_column("company_id")
    op.drop_index(op.f("ix_company_invitations_expires_at"), table_name="company_invitations")
    op.drop_index(op.f("ix_company_invitations_company_id"), table_name="company_invitations")
    op.drop_table("company_invitations")
    op.drop_index(op.f("ix_company_members_user_id"), table_name="company_members")
    op.drop_table("company_members")
    op.drop_table("companies")
    op.drop_table("user_roles")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled_at")
    op.drop_index("ix_audit_events_target_id", table_name="audit_events")
    op.drop_index("ix_audit_events_actor_id", table_name="audit_events")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("target")
        batch.drop_column("actor")


# The registries whose every change raises registry_generation (store/sql/tables.py).
REGISTRY_TABLES = (
    "clients",
    "client_secrets",
    "api_products",
    "api_product_clients",
    "signing_keys",
    "upstream_providers",
)
BUMP = "UPDATE registry_generation SET generation = generation + 1 WHERE id = 1"


def _create_registry_generation() -> None:
    op.create_table(
        "registry_generation",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_generation")),
    )
    op.execute("INSERT INTO registry_generation (id, generation) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        # Per statement: a batch of inserts raises it once. The UPDATE's row lock is held to
        # the end of the changing transaction, so a reader sees the new number only once the
        # change it stands for is committed.
        op.execute(
            "CREATE FUNCTION idplus_registry_changed() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        for table in REGISTRY_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_registry_changed AFTER INSERT OR UPDATE OR DELETE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION idplus_registry_changed()"
            )
        return
    # SQLite has row triggers only; one per table and kind of change.
    for table in REGISTRY_TABLES:
        for change in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_registry_{change.lower()} AFTER {change} ON {table} "
                f"BEGIN {BUMP}; END"
            )


def _drop_registry_generation() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in REGISTRY_TABLES:
            op.execute(f"DROP TRIGGER {table}_registry_changed ON {table}")
        op.execute("DROP FUNCTION idplus_registry_changed()")
    else:
        for table in REGISTRY_TABLES:
            for change in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_registry_{change}")
    op.drop_table("registry_generation")
