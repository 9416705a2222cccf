"""consumer keys: expiry, per-key limits, rotation and stopping

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

A product key of an outside consumer (issue 17): when it expires, its own calls a minute and
records a day (None: the production rules' defaults), the key it replaced when rotated, and
when and why the platform stopped it (a verification sweep).
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("product_keys") as batch:
        batch.add_column(sa.Column("expires_at", TZ, nullable=True))
        batch.add_column(sa.Column("calls_per_minute", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("records_per_day", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rotated_from", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("stopped_at", TZ, nullable=True))
        batch.add_column(sa.Column("stop_reason", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("product_keys") as batch:
        for name in ("stop_reason", "stopped_at", "rotated_from", "records_per_day",
                     "calls_per_minute", "expires_at"):  # fmt: skip
            batch.drop_column(name)
