"""privacy computing: parties

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

An outside organisation whose node computes with the platform's node (PSI, joint statistics,
vertical training) for one tenant: its node address, status, certificate and declared schema.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "parties",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active", "suspended", "revoked", name="party_status", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("status_by", sa.String(length=64), nullable=True),
        sa.Column("status_at", TZ, nullable=True),
        sa.Column("cert_pem", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("declared_schema", sa.JSON(), nullable=False),
        sa.Column("schema_at", TZ, nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "name"),
        sa.UniqueConstraint("fingerprint"),
    )
    op.create_index("ix_parties_tenant_id", "parties", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_parties_tenant_id", table_name="parties")
    op.drop_table("parties")
