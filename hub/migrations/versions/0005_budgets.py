"""monthly budget caps of tenants

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

A request whose quote would take the month's charges over the cap is refused.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("monthly_budget_fen", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("monthly_budget_fen")
