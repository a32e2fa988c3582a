"""private_key_jwt client authentication: client keys and the assertions already used

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("token_endpoint_auth_method", sa.String(32), nullable=True))
        batch.add_column(sa.Column("jwks", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("jwks_uri", sa.Text(), nullable=True))
    op.create_table(
        "client_assertion_jtis",
        sa.Column("jti_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti_hash", name=op.f("pk_client_assertion_jtis")),
    )
    op.create_index(
        op.f("ix_client_assertion_jtis_expires_at"), "client_assertion_jtis", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_client_assertion_jtis_expires_at"), table_name="client_assertion_jtis")
    op.drop_table("client_assertion_jtis")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("jwks_uri")
        batch.drop_column("jwks")
        batch.drop_column("token_endpoint_auth_method")
