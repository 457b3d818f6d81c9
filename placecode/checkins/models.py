"""Check-ins (visits) and the hourly counts the writer keeps with them.

Times here are whole Unix seconds (UTC): the table holds millions of rows, and integers
are compact and fast to compare on both SQLite and PostgreSQL. On PostgreSQL the table is
partitioned by day (ranges of seconds), so retention drops whole partitions.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from placecode.db import Base

CHANNELS = ("suishenban", "wechat", "alipay", "web", "sentinel", "paper", "import")


class CheckIn(Base):
    __tablename__ = "checkins"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    scanned_at: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"))
    person_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("persons.id"))
    channel: Mapped[str] = mapped_column(String(12))
    colour: Mapped[str] = mapped_column(String(6))
    entry_allowed: Mapped[bool] = mapped_column(Boolean)
    checkout_at: Mapped[int | None] = mapped_column(BigInteger)
    companion_of: Mapped[int | None] = mapped_column(BigInteger)  # the guardian's person id
    recorded_by: Mapped[str | None] = mapped_column(String(64))  # device or registrar

    __table_args__ = (
        Index("ix_checkins_venue_id_scanned_at", "venue_id", "scanned_at"),
        Index("ix_checkins_person_id_venue_id_scanned_at", "person_id", "venue_id", "scanned_at"),
        {"postgresql_partition_by": "RANGE (scanned_at)"},
    )


class VenueHourlyCount(Base):
    """Scans per venue per hour (hour = Unix second the hour starts)."""

    __tablename__ = "venue_hourly_counts"

    venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), primary_key=True)
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer)

    # Covering: a day's counts per venue (detection, dashboards) are read from the index alone.
    __table_args__ = (
        Index("ix_venue_hourly_counts_hour_venue_id_count", "hour", "venue_id", "count"),
    )
