"""check-ins indexed by person, venue and time

The writer looks for a repeat of each (person, venue) pair in the dedupe window. Indexed by
person and time only, it read every scan of the person in the window, at any venue; this
index goes straight to the pair. Reads of a person's visits in a period use its first
column, as they used the index it replaces.

Revision ID: 7b2e4c1f9a60
Revises: 5e1c0d7a9b31
Create Date: 2026-12-03 08:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7b2e4c1f9a60"
down_revision: str | None = "5e1c0d7a9b31"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_checkins_person_id_venue_id_scanned_at",
        "checkins",
        ["person_id", "venue_id", "scanned_at"],
    )
    op.drop_index("ix_checkins_person_id_scanned_at", table_name="checkins")


def downgrade() -> None:
    op.create_index("ix_checkins_person_id_scanned_at", "checkins", ["person_id", "scanned_at"])
    op.drop_index("ix_checkins_person_id_venue_id_scanned_at", table_name="checkins")
