"""activity: each record's specialty (from its department), and a summary by specialty

A record's specialty is found from its department at import: the name of one of the
institution's registered departments, a specialty's code or a specialty's name; '' when none
matches. ``activity_month_specialty`` sums the records by institution, month, type, the
patients' province and specialty, beside ``activity_month``. Records already stored have no
specialty (''): the new summary starts as ``activity_month`` summed by province.

Revision ID: 0010
Revises: 0009
Created: 2026-12-02 04:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("activity_record", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("specialty_code", sa.String(length=32), nullable=False, server_default="")
        )
    op.create_table(
        "activity_month_specialty",
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("residence_province", sa.String(length=6), nullable=False),
        sa.Column("specialty", sa.String(length=32), nullable=False),
        sa.Column("starts", sa.BigInteger(), nullable=False),
        sa.Column("ends", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_activity_month_specialty_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint(
            "institution_id",
            "month",
            "type",
            "residence_province",
            "specialty",
            name=op.f("pk_activity_month_specialty"),
        ),
    )
    with op.batch_alter_table("activity_month_specialty", schema=None) as batch_op:
        batch_op.create_index(
            "ix_activity_month_specialty_month", ["month", "residence_province"], unique=False
        )
    op.execute(
        "INSERT INTO activity_month_specialty"
        " (institution_id, month, type, residence_province, specialty, starts, ends)"
        " SELECT institution_id, month, type, substr(residence_city, 1, 2) || '0000', '',"
        " SUM(starts), SUM(ends) FROM activity_month"
        " GROUP BY institution_id, month, type, substr(residence_city, 1, 2)"
    )


def downgrade() -> None:
    with op.batch_alter_table("activity_month_specialty", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_month_specialty_month")
    op.drop_table("activity_month_specialty")
    with op.batch_alter_table("activity_record", schema=None) as batch_op:
        batch_op.drop_column("specialty_code")
