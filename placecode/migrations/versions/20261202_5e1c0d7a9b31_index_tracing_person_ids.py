"""index the tracing tables' person ids

Retention deletes people who have nothing left; for each one the database checks that no
traced index person or contact still names them, which without these indexes is a pass
over the whole table per person deleted.

Revision ID: 5e1c0d7a9b31
Revises: 38ee87f43561
Create Date: 2026-12-02 02:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5e1c0d7a9b31"
down_revision: str | None = "38ee87f43561"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_tracing_indexes_person_id"), "tracing_indexes", ["person_id"])
    op.create_index(op.f("ix_tracing_contacts_person_id"), "tracing_contacts", ["person_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_tracing_contacts_person_id"), table_name="tracing_contacts")
    op.drop_index(op.f("ix_tracing_indexes_person_id"), table_name="tracing_indexes")
