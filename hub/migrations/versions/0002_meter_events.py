"""meter events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Metered uses of the platform (masked rows served by the gateway, …), one row each.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meter_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("scenario_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["scenario_id"], ["scenarios.id"]),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("meter_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meter_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_meter_events_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("meter_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meter_events_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_meter_events_at"))
    op.drop_table("meter_events")
