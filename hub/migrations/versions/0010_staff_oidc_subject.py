"""staff: the unified identity provider's subject bound to a staff record

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05

Issue 18: a staff member logging in through the unified identity provider (OIDC) is the one whose
record holds the provider's ``sub``; one subject per record, one record per subject (unique), so
a provider account cannot take over another staff record.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        batch.add_column(sa.Column("oidc_subject", sa.String(length=255), nullable=True))
    op.create_index("ix_staff_oidc_subject", "staff", ["oidc_subject"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_staff_oidc_subject", table_name="staff")
    with op.batch_alter_table("staff") as batch:
        batch.drop_column("oidc_subject")
