"""traffic alerts

Revision ID: 2d578f86d78a
Revises: 9c7a6c99b952
Create Date: 2026-11-28 09:34:59.109202
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2d578f86d78a"
down_revision: str | None = "9c7a6c99b952"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A day's counts per venue are read from the index alone (detection, dashboards).
    with op.batch_alter_table("venue_hourly_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_venue_hourly_counts_hour")
        batch_op.create_index(
            "ix_venue_hourly_counts_hour_venue_id_count",
            ["hour", "venue_id", "count"],
            unique=False,
        )
    op.create_table(
        "traffic_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("venue_id", sa.String(length=12), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("z", sa.Float(), nullable=False),
        sa.Column("ratio", sa.Float(), nullable=False),
        sa.Column("raised_hour", sa.Integer(), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("department_code", sa.String(length=40), nullable=False),
        sa.Column("street_code", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=14), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["venue_id"], ["venues.id"], name=op.f("fk_traffic_alerts_venue_id_venues")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traffic_alerts")),
        sa.UniqueConstraint(
            "venue_id", "day", "kind", name=op.f("uq_traffic_alerts_venue_id_day_kind")
        ),
    )
    with op.batch_alter_table("traffic_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_traffic_alerts_day", ["day"], unique=False)
        batch_op.create_index(
            "ix_traffic_alerts_department_code_status", ["department_code", "status"], unique=False
        )
        batch_op.create_index(
            "ix_traffic_alerts_street_code_status", ["street_code", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("venue_hourly_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_venue_hourly_counts_hour_venue_id_count")
        batch_op.create_index("ix_venue_hourly_counts_hour", ["hour"], unique=False)
    with op.batch_alter_table("traffic_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_traffic_alerts_street_code_status")
        batch_op.drop_index("ix_traffic_alerts_department_code_status")
        batch_op.drop_index("ix_traffic_alerts_day")

    op.drop_table("traffic_alerts")
