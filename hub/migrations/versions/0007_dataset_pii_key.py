"""one key for a column's personal-data kind: pii

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

``shuyu dataset add`` stored the detected entity as ``pii_entity`` (``CN_RESIDENT_ID``) while
sampling and the export checks read ``pii`` (``resident_id``), so command-line registrations had
no identifying columns. Every catalog schema now says ``pii``; this rewrites the old ones.
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

KIND_OF = {
    "CN_RESIDENT_ID": "resident_id",
    "CN_MOBILE": "mobile",
    "CN_NAME": "name",
    "CN_ADDRESS": "address",
    "CN_USCC": "uscc",
    "CN_BANK_CARD": "bank_card",
    "CN_LICENSE_PLATE": "plate",
    "EMAIL_ADDRESS": "email",
}
ENTITY_OF = {kind: entity for entity, kind in KIND_OF.items()}

datasets = sa.table("datasets", sa.column("id", sa.Integer), sa.column("schema", sa.JSON))


def _rewrite(change) -> None:
    conn = op.get_bind()
    for row in conn.execute(sa.select(datasets.c.id, datasets.c.schema)).all():
        schema = row.schema if not isinstance(row.schema, str) else json.loads(row.schema)
        new = [change(dict(c)) for c in schema or []]
        if new != schema:
            conn.execute(datasets.update().where(datasets.c.id == row.id).values(schema=new))


def _to_pii(column: dict) -> dict:
    if "pii_entity" in column:
        entity = column.pop("pii_entity")
        column.setdefault("pii", KIND_OF.get(entity or ""))
    return column


def _to_pii_entity(column: dict) -> dict:
    kind = column.get("pii")
    if kind in ENTITY_OF:
        column["pii_entity"] = ENTITY_OF[kind]
    return column


def upgrade() -> None:
    _rewrite(_to_pii)


def downgrade() -> None:
    _rewrite(_to_pii_entity)
