"""Tracing cases: who is traced (index people, risky venue windows), with which parameters,
what was found, and whether it was confirmed into health events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from placecode.db import Base

PERSON_ID = BigInteger().with_variant(Integer, "sqlite")


class TracingCase(Base):
    __tablename__ = "tracing_cases"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12))  # open, confirmed, withdrawn
    degree: Mapped[int] = mapped_column(Integer)
    threshold_minutes: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    traced_at: Mapped[datetime | None]
    confirmed_by: Mapped[str | None] = mapped_column(String(64))
    confirmed_at: Mapped[datetime | None]
    withdrawn_by: Mapped[str | None] = mapped_column(String(64))
    withdrawn_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("degree IN (1, 2)", name="degree"),
        CheckConstraint("threshold_minutes > 0", name="threshold"),
    )


class TracingIndex(Base):
    """An index person of a case and the window their movements are traced in."""

    __tablename__ = "tracing_indexes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("tracing_cases.id"), index=True)
    person_id: Mapped[int] = mapped_column(PERSON_ID, ForeignKey("persons.id"), index=True)
    since: Mapped[datetime]
    until: Mapped[datetime]
    cluster: Mapped[int] = mapped_column(Integer, default=0)  # set when traced


class RiskWindow(Base):
    """A venue and a time window the CDC marks as risky: its visitors were exposed."""

    __tablename__ = "tracing_risk_windows"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("tracing_cases.id"), index=True)
    venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)


class TracedContact(Base):
    """One person a case found: how (degree, kind), how long, first when and where, via
    whom (an index person or a close contact; none for a risky venue's visitor)."""

    __tablename__ = "tracing_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("tracing_cases.id"), index=True)
    person_id: Mapped[int] = mapped_column(PERSON_ID, ForeignKey("persons.id"), index=True)
    degree: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # close_contact, exposure, secondary_contact
    overlap_seconds: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime]
    venue_id: Mapped[str] = mapped_column(String(12))
    via_person_id: Mapped[int | None] = mapped_column(PERSON_ID)
    cluster: Mapped[int] = mapped_column(Integer)
