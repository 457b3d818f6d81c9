"""Reference data of the region: its streets and towns, departments and venue categories."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from placecode.db import Base


class EntryPolicy(StrEnum):
    """What a venue asks of a visitor before letting them in."""

    green = "green"
    green_nat48 = "green_nat48"
    green_nat72 = "green_nat72"
    green_nat72_or_sampled24 = "green_nat72_or_sampled24"


class Region(Base):
    """The one region this instance serves (a district, e.g. 普陀区)."""

    __tablename__ = "region"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(120))
    city_zh: Mapped[str] = mapped_column(String(60))
    timezone: Mapped[str] = mapped_column(String(60))
    population: Mapped[int] = mapped_column(Integer)
    lon_min: Mapped[float] = mapped_column(Float)
    lon_max: Mapped[float] = mapped_column(Float)
    lat_min: Mapped[float] = mapped_column(Float)
    lat_max: Mapped[float] = mapped_column(Float)


class Street(Base):
    """A street (街道) or town (镇): the unit of territorial responsibility."""

    __tablename__ = "streets"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    pop_share: Mapped[float] = mapped_column(Float)
    centroid_lon: Mapped[float] = mapped_column(Float)
    centroid_lat: Mapped[float] = mapped_column(Float)

    __table_args__ = (CheckConstraint("kind IN ('subdistrict', 'town')", name="kind"),)


class Department(Base):
    """A district department responsible for some venue categories (行业主管)."""

    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(120))


class Category(Base):
    """A kind of venue, with its responsible department, usual dwell time and entry policy."""

    __tablename__ = "venue_categories"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(120))
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    dwell_minutes: Mapped[int] = mapped_column(Integer)
    entry_policy: Mapped[str] = mapped_column(String(40))

    __table_args__ = (
        CheckConstraint("dwell_minutes > 0 AND dwell_minutes <= 1440", name="dwell_minutes"),
        CheckConstraint(
            "entry_policy IN (" + ", ".join(f"'{policy.value}'" for policy in EntryPolicy) + ")",
            name="entry_policy",
        ),
    )
