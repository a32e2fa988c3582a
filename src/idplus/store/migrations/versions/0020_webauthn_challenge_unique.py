"""one live WebAuthn challenge per purpose and binding: a unique index the issuing upsert uses

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-11
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_UNIQUE = "ux_webauthn_challenges_purpose_binding_hash"


def upgrade() -> None:
    # Challenges live minutes: dropping the ones left (duplicates included) only makes a
    # ceremony in progress ask for new options.
    op.execute(sa.text("DELETE FROM webauthn_challenges"))
    op.drop_index("ix_webauthn_challenges_binding_hash", table_name="webauthn_challenges")
    op.create_index(_UNIQUE, "webauthn_challenges", ["purpose", "binding_hash"], unique=True)


def downgrade() -> None:
    op.drop_index(_UNIQUE, table_name="webauthn_challenges")
    op.create_index("ix_webauthn_challenges_binding_hash", "webauthn_challenges", ["binding_hash"])
