"""traffic roll-ups

Revision ID: 38ee87f43561
Revises: 2d578f86d78a
Create Date: 2026-11-28 11:28:57.978003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "38ee87f43561"
down_revision: str | None = "2d578f86d78a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The dashboards read weeks of street × category hours and venue-days, rolled up hourly.
    op.create_table(
        "area_hourly_counts",
        sa.Column("hour", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("street_code", sa.String(length=40), nullable=False),
        sa.Column("category_code", sa.String(length=40), nullable=False),
        sa.Column("scans", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "hour", "street_code", "category_code", name=op.f("pk_area_hourly_counts")
        ),
    )
    op.create_table(
        "rolled_up_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("through", sa.BigInteger(), nullable=False),
        sa.Column("rolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_rolled_up_days")),
    )
    op.create_table(
        "venue_daily_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("venue_id", sa.String(length=40), nullable=False),
        sa.Column("street_code", sa.String(length=40), nullable=False),
        sa.Column("category_code", sa.String(length=40), nullable=False),
        sa.Column("scans", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "venue_id", name=op.f("pk_venue_daily_counts")),
    )
    with op.batch_alter_table("venue_daily_counts", schema=None) as batch_op:
        batch_op.create_index("ix_venue_daily_counts_day_scans", ["day", "scans"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("venue_daily_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_venue_daily_counts_day_scans")

    op.drop_table("venue_daily_counts")
    op.drop_table("rolled_up_days")
    op.drop_table("area_hourly_counts")
