"""pools: the forecast's own median at listing, for calibrating the ranges

Revision ID: 0006
Revises: 0005
Created: 2026-12-01 14:43:55.217947+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("waitlist_entry", sa.Column("forecast_median_on", sa.Date(), nullable=True))
    # every range recorded so far was the forecast's own
    op.execute("UPDATE waitlist_entry SET forecast_median_on = predicted_median_on")


def downgrade() -> None:
    op.drop_column("waitlist_entry", "forecast_median_on")
