"""activity_month: the records summed by institution, month, type and residence city

Revision ID: 0008
Revises: 0007
Created: 2026-12-02 00:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activity_month",
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("residence_city", sa.String(length=6), nullable=False),
        sa.Column("starts", sa.BigInteger(), nullable=False),
        sa.Column("ends", sa.BigInteger(), nullable=False),
        sa.Column("cost_fen", sa.BigInteger(), nullable=False),
        sa.Column("stay_days", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_activity_month_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint(
            "institution_id", "month", "type", "residence_city", name=op.f("pk_activity_month")
        ),
    )
    with op.batch_alter_table("activity_month", schema=None) as batch_op:
        batch_op.create_index("ix_activity_month_month", ["month", "residence_city"], unique=False)
    # the records already imported, summed
    postgres = op.get_bind().dialect.name == "postgresql"
    start = "to_char(start_on, 'YYYY-MM')" if postgres else "substr(start_on, 1, 7)"
    end = "to_char(end_on, 'YYYY-MM')" if postgres else "substr(end_on, 1, 7)"
    days = (
        "end_on - start_on"
        if postgres
        else "CAST(julianday(end_on) - julianday(start_on) AS INTEGER)"
    )
    op.execute(
        f"""
        INSERT INTO activity_month
            (institution_id, month, type, residence_city, starts, ends, cost_fen, stay_days)
        SELECT institution_id, month, type, city, SUM(starts), SUM(ends), SUM(cost), SUM(days)
        FROM (
            SELECT institution_id, {start} AS month, type,
                   substr(residence_code, 1, 4) || '00' AS city,
                   1 AS starts, 0 AS ends, COALESCE(cost_fen, 0) AS cost, 0 AS days
            FROM activity_record
            UNION ALL
            SELECT institution_id, {end}, type, substr(residence_code, 1, 4) || '00',
                   0, 1, 0, {days}
            FROM activity_record WHERE end_on IS NOT NULL
        ) AS parts
        GROUP BY institution_id, month, type, city
        """  # noqa: S608
    )


def downgrade() -> None:
    with op.batch_alter_table("activity_month", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_month_month")
    op.drop_table("activity_month")
