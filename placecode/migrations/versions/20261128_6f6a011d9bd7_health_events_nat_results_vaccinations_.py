"""Create health events, NAT results, vaccinations, the scan path's health profiles and
correction requests.

Revision ID: 6f6a011d9bd7
Revises: 42c4bfd8096f
Create Date: 2026-11-28 05:48:15.641675
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6f6a011d9bd7"
down_revision: str | None = "42c4bfd8096f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "health_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("colour", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_health_corrections_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_corrections")),
    )
    with op.batch_alter_table("health_corrections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_health_corrections_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_health_corrections_state"), ["state"], unique=False)

    op.create_table(
        "health_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_health_events_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_events")),
        sa.UniqueConstraint(
            "person_id",
            "kind",
            "occurred_at",
            name=op.f("uq_health_events_person_id_kind_occurred_at"),
        ),
    )
    op.create_table(
        "health_profiles",
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("person_key", sa.String(length=32), nullable=False),
        sa.Column("nat_sampled_at", sa.BigInteger(), nullable=True),
        sa.Column("nat_result", sa.String(length=10), nullable=True),
        sa.Column("vaccination", sa.String(length=20), nullable=False),
        sa.Column("watched", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_health_profiles_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_health_profiles")),
        sa.UniqueConstraint("person_key", name=op.f("uq_health_profiles_person_key")),
    )
    with op.batch_alter_table("health_profiles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_health_profiles_revision"), ["revision"], unique=False)

    op.create_table(
        "nat_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("sampled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.String(length=10), nullable=False),
        sa.Column("institution", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_nat_results_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nat_results")),
        sa.UniqueConstraint(
            "person_id", "sampled_at", name=op.f("uq_nat_results_person_id_sampled_at")
        ),
    )
    op.create_table(
        "vaccinations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("dose", sa.Integer(), nullable=False),
        sa.Column("vaccinated_at", sa.Date(), nullable=False),
        sa.Column("product", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_vaccinations_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vaccinations")),
        sa.UniqueConstraint("person_id", "dose", name=op.f("uq_vaccinations_person_id_dose")),
    )


def downgrade() -> None:
    op.drop_table("vaccinations")
    op.drop_table("nat_results")
    with op.batch_alter_table("health_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_health_profiles_revision"))

    op.drop_table("health_profiles")
    op.drop_table("health_events")
    with op.batch_alter_table("health_corrections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_health_corrections_state"))
        batch_op.drop_index(batch_op.f("ix_health_corrections_person_id"))

    op.drop_table("health_corrections")
