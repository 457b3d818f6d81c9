"""tracing cases and venue dwell override

Revision ID: 9c7a6c99b952
Revises: 6f6a011d9bd7
Create Date: 2026-11-28 08:52:27.014166
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9c7a6c99b952"
down_revision: str | None = "6f6a011d9bd7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tracing_cases",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("degree", sa.Integer(), nullable=False),
        sa.Column("threshold_minutes", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("traced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.String(length=64), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=64), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("degree IN (1, 2)", name=op.f("ck_tracing_cases_degree")),
        sa.CheckConstraint("threshold_minutes > 0", name=op.f("ck_tracing_cases_threshold")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracing_cases")),
    )
    op.create_table(
        "tracing_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=24), nullable=False),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("degree", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("overlap_seconds", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("venue_id", sa.String(length=12), nullable=False),
        sa.Column(
            "via_person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("cluster", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["tracing_cases.id"],
            name=op.f("fk_tracing_contacts_case_id_tracing_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_tracing_contacts_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracing_contacts")),
    )
    with op.batch_alter_table("tracing_contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tracing_contacts_case_id"), ["case_id"], unique=False)

    op.create_table(
        "tracing_indexes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=24), nullable=False),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cluster", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["tracing_cases.id"], name=op.f("fk_tracing_indexes_case_id_tracing_cases")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_tracing_indexes_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracing_indexes")),
    )
    with op.batch_alter_table("tracing_indexes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tracing_indexes_case_id"), ["case_id"], unique=False)

    op.create_table(
        "tracing_risk_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=24), nullable=False),
        sa.Column("venue_id", sa.String(length=12), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["tracing_cases.id"],
            name=op.f("fk_tracing_risk_windows_case_id_tracing_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["venue_id"], ["venues.id"], name=op.f("fk_tracing_risk_windows_venue_id_venues")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracing_risk_windows")),
    )
    with op.batch_alter_table("tracing_risk_windows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tracing_risk_windows_case_id"), ["case_id"], unique=False
        )

    with op.batch_alter_table("venues", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dwell_minutes", sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_venues_dwell_minutes"),
            "dwell_minutes IS NULL OR (dwell_minutes > 0 AND dwell_minutes <= 1440)",
        )


def downgrade() -> None:
    with op.batch_alter_table("venues", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_venues_dwell_minutes"), type_="check")
        batch_op.drop_column("dwell_minutes")

    with op.batch_alter_table("tracing_risk_windows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tracing_risk_windows_case_id"))

    op.drop_table("tracing_risk_windows")
    with op.batch_alter_table("tracing_indexes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tracing_indexes_case_id"))

    op.drop_table("tracing_indexes")
    with op.batch_alter_table("tracing_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tracing_contacts_case_id"))

    op.drop_table("tracing_contacts")
    op.drop_table("tracing_cases")
