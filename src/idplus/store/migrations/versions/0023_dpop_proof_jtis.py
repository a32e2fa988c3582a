"""DPoP proofs already used (RFC 9449 §11.1), kept until they can no longer be accepted

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dpop_proof_jtis",
        sa.Column("jti_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti_hash", name=op.f("pk_dpop_proof_jtis")),
    )
    op.create_index(op.f("ix_dpop_proof_jtis_expires_at"), "dpop_proof_jtis", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_dpop_proof_jtis_expires_at"), table_name="dpop_proof_jtis")
    op.drop_table("dpop_proof_jtis")
