"""Health records from the CDC: events, NAT results, vaccinations; each person's summary
that the scan path keeps in memory; correction requests (纠错)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from placecode.db import Base

PERSON_ID = BigInteger().with_variant(Integer, "sqlite")


class HealthEvent(Base):
    """Something the CDC says about a person from a moment on (a case, a contact, cleared…)."""

    __tablename__ = "health_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(PERSON_ID, ForeignKey("persons.id"))
    kind: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime]
    case_id: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(20))  # import, cdc, correction, tracing
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]

    # The same event twice (a file imported again) is one event.
    __table_args__ = (UniqueConstraint("person_id", "kind", "occurred_at"),)


class NatTest(Base):
    """A nucleic-acid test: when the sample was taken, its result, by whom."""

    __tablename__ = "nat_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(PERSON_ID, ForeignKey("persons.id"))
    sampled_at: Mapped[datetime]
    result: Mapped[str] = mapped_column(String(10))
    institution: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("person_id", "sampled_at"),)


class Vaccination(Base):
    """A dose given, or (dose 0) a medical exemption from vaccination."""

    __tablename__ = "vaccinations"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(PERSON_ID, ForeignKey("persons.id"))
    dose: Mapped[int] = mapped_column(Integer)
    vaccinated_at: Mapped[date]
    product: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("person_id", "dose"),)


class HealthProfile(Base):
    """What the scan path holds in memory about one person with any health record.

    Rewritten (with a new `revision`) whenever the person's records change, so that every
    worker loads only the rows changed since it last looked. `watched` marks people whose
    colour may not be green: their events and NAT results are loaded as well.
    """

    __tablename__ = "health_profiles"

    person_id: Mapped[int] = mapped_column(PERSON_ID, ForeignKey("persons.id"), primary_key=True)
    person_key: Mapped[str] = mapped_column(String(32), unique=True)
    nat_sampled_at: Mapped[int | None] = mapped_column(BigInteger)  # epoch seconds
    nat_result: Mapped[str | None] = mapped_column(String(10))
    vaccination: Mapped[str] = mapped_column(String(20))
    watched: Mapped[bool] = mapped_column(Boolean)
    revision: Mapped[int] = mapped_column(BigInteger, index=True)


class Correction(Base):
    """A citizen's request to correct their code's colour (纠错), and how the CDC answered."""

    __tablename__ = "health_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(PERSON_ID, ForeignKey("persons.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    colour: Mapped[str] = mapped_column(String(10))  # the colour when it was filed
    state: Mapped[str] = mapped_column(String(10), index=True)  # open, kept, cleared
    filed_at: Mapped[datetime]
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
