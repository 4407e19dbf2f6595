"""activity_record: its institution and import no longer checked by foreign keys, row by row

The import is the only writer of records: it takes the institution's id from the registry and
its own id, in the same transaction, and neither institutions nor imports are ever deleted.
PostgreSQL checked both keys of every record written, a look-up and a row lock each, which
took as long as writing the record itself.

Revision ID: 0011
Revises: 0010
Created: 2026-12-02 18:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("activity_record", schema=None) as batch_op:
        batch_op.drop_constraint("fk_activity_record_import_id_activity_import", type_="foreignkey")
        batch_op.drop_constraint(
            "fk_activity_record_institution_id_institution", type_="foreignkey"
        )


def downgrade() -> None:
    with op.batch_alter_table("activity_record", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_activity_record_institution_id_institution",
            "institution",
            ["institution_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            "fk_activity_record_import_id_activity_import",
            "activity_import",
            ["import_id"],
            ["id"],
        )
