"""activity_record: drop the two indexes no query reads (the indicators read activity_month)

Every import wrote both indexes for every record; the import looks records up only by their
key (institution, record id), which has its own unique index.

Revision ID: 0009
Revises: 0008
Created: 2026-12-02 04:20:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("activity_record", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_record_residence_start")
        batch_op.drop_index("ix_activity_record_institution_start")


def downgrade() -> None:
    with op.batch_alter_table("activity_record", schema=None) as batch_op:
        batch_op.create_index(
            "ix_activity_record_institution_start", ["institution_id", "start_on"], unique=False
        )
        batch_op.create_index(
            "ix_activity_record_residence_start", ["residence_code", "start_on"], unique=False
        )
