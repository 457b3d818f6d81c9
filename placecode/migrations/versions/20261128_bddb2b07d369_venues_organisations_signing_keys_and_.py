"""Create organisations, certificate challenges, venues, their history, signing keys and change counters.

Revision ID: bddb2b07d369
Revises: dd15c5bc4633
Create Date: 2026-11-28 03:13:09.952829
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "bddb2b07d369"
down_revision: str | None = "dd15c5bc4633"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "certificate_challenges",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("text", sa.String(length=120), nullable=False),
        sa.Column("certificate_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_challenges")),
    )
    op.create_table(
        "change_counters",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_change_counters")),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )
    op.create_table(
        "organisations",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("street_code", sa.String(length=40), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("certificate_sha256", sa.String(length=64), nullable=True),
        sa.Column("certificate_subject", sa.String(length=500), nullable=True),
        sa.Column("certificate_not_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "kind IN ('enterprise', 'individual_business', 'property_manager', 'market_operator', 'street_office')",
            name=op.f("ck_organisations_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["street_code"], ["streets.code"], name=op.f("fk_organisations_street_code_streets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("uscc", name=op.f("uq_organisations_uscc")),
    )
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organisations_street_code"), ["street_code"], unique=False
        )

    op.create_table(
        "venues",
        sa.Column("id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("street_code", sa.String(length=40), nullable=False),
        sa.Column("category_code", sa.String(length=40), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("organisation_id", sa.String(length=16), nullable=True),
        sa.Column("operator_name", sa.String(length=200), nullable=True),
        sa.Column("operator_uscc", sa.String(length=18), nullable=True),
        sa.Column("delegated", sa.Boolean(), nullable=False),
        sa.Column("vouched_by", sa.String(length=80), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("entry_policy", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("code_version", sa.Integer(), nullable=False),
        sa.Column("natural_key", sa.String(length=40), nullable=False),
        sa.Column("registered_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'revoked')", name=op.f("ck_venues_status")
        ),
        sa.CheckConstraint("capacity IS NULL OR capacity > 0", name=op.f("ck_venues_capacity")),
        sa.CheckConstraint("code_version >= 1", name=op.f("ck_venues_code_version")),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["venue_categories.code"],
            name=op.f("fk_venues_category_code_venue_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_venues_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["street_code"], ["streets.code"], name=op.f("fk_venues_street_code_streets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_venues")),
        sa.UniqueConstraint("natural_key", name=op.f("uq_venues_natural_key")),
    )
    with op.batch_alter_table("venues", schema=None) as batch_op:
        batch_op.create_index("ix_venues_category_code", ["category_code"], unique=False)
        batch_op.create_index("ix_venues_organisation_id", ["organisation_id"], unique=False)
        batch_op.create_index(
            "ix_venues_street_code_category_code", ["street_code", "category_code"], unique=False
        )

    op.create_table(
        "venue_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("venue_id", sa.String(length=12), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["venue_id"], ["venues.id"], name=op.f("fk_venue_events_venue_id_venues")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_venue_events")),
    )
    with op.batch_alter_table("venue_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_venue_events_venue_id"), ["venue_id"], unique=False)

    op.bulk_insert(
        sa.table("change_counters", sa.column("name", sa.String), sa.column("version", sa.Integer)),
        [{"name": "venues", "version": 0}, {"name": "signing_keys", "version": 0}],
    )


def downgrade() -> None:
    with op.batch_alter_table("venue_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_venue_events_venue_id"))

    op.drop_table("venue_events")
    with op.batch_alter_table("venues", schema=None) as batch_op:
        batch_op.drop_index("ix_venues_street_code_category_code")
        batch_op.drop_index("ix_venues_organisation_id")
        batch_op.drop_index("ix_venues_category_code")

    op.drop_table("venues")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisations_street_code"))

    op.drop_table("organisations")
    op.drop_table("signing_keys")
    op.drop_table("change_counters")
    op.drop_table("certificate_challenges")
