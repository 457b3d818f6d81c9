"""Create persons (sealed), companions, sign-in codes, identity issuers, check-ins (by day
partitions on PostgreSQL), hourly counts and the scheduler's runs.

Revision ID: 42c4bfd8096f
Revises: bddb2b07d369
Create Date: 2026-11-28 03:58:43.888187
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "42c4bfd8096f"
down_revision: str | None = "bddb2b07d369"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_issuers",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_identity_issuers")),
    )
    op.create_table(
        "persons",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("person_key", sa.String(length=32), nullable=False),
        sa.Column("doc_type", sa.String(length=20), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("name_masked", sa.String(length=64), nullable=False),
        sa.Column("doc_masked", sa.String(length=32), nullable=False),
        sa.Column("phone_masked", sa.String(length=24), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.UniqueConstraint("person_key", name=op.f("uq_persons_person_key")),
    )
    op.create_table(
        "sign_in_codes",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("person_key", sa.String(length=32), nullable=False),
        sa.Column("doc_type", sa.String(length=20), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("name_masked", sa.String(length=64), nullable=False),
        sa.Column("doc_masked", sa.String(length=32), nullable=False),
        sa.Column("phone_masked", sa.String(length=24), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_codes")),
    )
    op.create_table(
        "companions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "guardian_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "dependent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("relationship", sa.String(length=20), nullable=False),
        sa.Column("with_me", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dependent_id"], ["persons.id"], name=op.f("fk_companions_dependent_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["guardian_id"], ["persons.id"], name=op.f("fk_companions_guardian_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_companions")),
        sa.UniqueConstraint(
            "guardian_id", "dependent_id", name=op.f("uq_companions_guardian_id_dependent_id")
        ),
    )
    with op.batch_alter_table("companions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_companions_dependent_id"), ["dependent_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_companions_guardian_id"), ["guardian_id"], unique=False
        )

    op.create_table(
        "checkins",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("scanned_at", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("venue_id", sa.String(length=12), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("colour", sa.String(length=6), nullable=False),
        sa.Column("entry_allowed", sa.Boolean(), nullable=False),
        sa.Column("checkout_at", sa.BigInteger(), nullable=True),
        sa.Column("companion_of", sa.BigInteger(), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_checkins_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["venue_id"], ["venues.id"], name=op.f("fk_checkins_venue_id_venues")
        ),
        sa.PrimaryKeyConstraint("id", "scanned_at", name=op.f("pk_checkins")),
        postgresql_partition_by="RANGE (scanned_at)",
    )
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.create_index(
            "ix_checkins_person_id_scanned_at", ["person_id", "scanned_at"], unique=False
        )
        batch_op.create_index(
            "ix_checkins_venue_id_scanned_at", ["venue_id", "scanned_at"], unique=False
        )

    op.create_table(
        "venue_hourly_counts",
        sa.Column("venue_id", sa.String(length=12), nullable=False),
        sa.Column("hour", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["venue_id"], ["venues.id"], name=op.f("fk_venue_hourly_counts_venue_id_venues")
        ),
        sa.PrimaryKeyConstraint("venue_id", "hour", name=op.f("pk_venue_hourly_counts")),
    )
    with op.batch_alter_table("venue_hourly_counts", schema=None) as batch_op:
        batch_op.create_index("ix_venue_hourly_counts_hour", ["hour"], unique=False)

    op.create_table(
        "scheduled_runs",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduled_runs")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Ids handed out in blocks by the writer (COPY cannot return them).
        op.execute("CREATE SEQUENCE checkins_id_seq AS BIGINT")
    op.bulk_insert(
        sa.table("change_counters", sa.column("name", sa.String), sa.column("version", sa.Integer)),
        [{"name": "identity_issuers", "version": 0}],
    )


def downgrade() -> None:
    op.drop_table("scheduled_runs")
    with op.batch_alter_table("venue_hourly_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_venue_hourly_counts_hour")

    op.drop_table("venue_hourly_counts")
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_index("ix_checkins_venue_id_scanned_at")
        batch_op.drop_index("ix_checkins_person_id_scanned_at")

    op.drop_table("checkins")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS checkins_id_seq")
    with op.batch_alter_table("companions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_companions_guardian_id"))
        batch_op.drop_index(batch_op.f("ix_companions_dependent_id"))

    op.drop_table("companions")
    op.drop_table("sign_in_codes")
    op.drop_table("persons")
    op.drop_table("identity_issuers")
