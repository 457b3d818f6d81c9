"""Alerts of surges and drops in a venue's foot traffic, routed to the venue category's
department and to its street (四方责任), acknowledged and resolved there."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from placecode.db import Base


class Alert(Base):
    __tablename__ = "traffic_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"))
    day: Mapped[date]
    kind: Mapped[str] = mapped_column(String(8))  # surge, drop
    # The evidence, as it stood when the alert was raised.
    count: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[float] = mapped_column(Float)
    z: Mapped[float] = mapped_column(Float)
    ratio: Mapped[float] = mapped_column(Float)
    raised_hour: Mapped[int] = mapped_column(Integer)  # counts up to this local hour (24: the day)
    basis: Mapped[str] = mapped_column(String(16))  # same_weekday, recent_days
    # Where it goes: the category's department and the venue's street.
    department_code: Mapped[str] = mapped_column(String(40))
    street_code: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(14))  # open, acknowledged, resolved
    created_at: Mapped[datetime]
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("venue_id", "day", "kind"),  # one alert a venue-day
        Index("ix_traffic_alerts_day", "day"),
        Index("ix_traffic_alerts_department_code_status", "department_code", "status"),
        Index("ix_traffic_alerts_street_code_status", "street_code", "status"),
    )


class AreaHourlyCount(Base):
    """Scans per street × category per hour, rolled up from the venues' hourly counts every
    hour: the dashboards read weeks of these instead of millions of venue-hours."""

    __tablename__ = "area_hourly_counts"

    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    street_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    category_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    scans: Mapped[int] = mapped_column(Integer)


class VenueDailyCount(Base):
    """Scans per venue per day (the rolled-up hours of it): the busiest venues of a day."""

    __tablename__ = "venue_daily_counts"

    day: Mapped[date] = mapped_column(primary_key=True)
    venue_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    street_code: Mapped[str] = mapped_column(String(40))
    category_code: Mapped[str] = mapped_column(String(40))
    scans: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_venue_daily_counts_day_scans", "day", "scans"),)


class RolledUpDay(Base):
    """How much of a day is in the roll-ups: its hours before `through` (a Unix second); the
    hours from there are read from the venues' hourly counts."""

    __tablename__ = "rolled_up_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    through: Mapped[int] = mapped_column(BigInteger)
    rolled_at: Mapped[datetime]
