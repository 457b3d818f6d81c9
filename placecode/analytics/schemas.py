"""API shapes of foot traffic: alerts with their evidence, answers, a day's overview, a
venue's hours, coverage."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from placecode.fields import JSON_INTEGER, text_block


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class AlertView(BaseModel):
    id: int
    venue_id: str
    venue_name: str
    day: date
    kind: str = Field(description="surge or drop")
    count: int = Field(description="Scans up to the hour raised.")
    baseline: float = Field(description="The usual count up to that hour (median).")
    z: float = Field(description="Robust z: (count − median) / (1.4826 × MAD, at least √median).")
    ratio: float
    raised_hour: int = Field(description="Counts up to this local hour; 24: the whole day.")
    basis: str = Field(description="same_weekday (4 weeks) or recent_days (short history).")
    department_code: str
    street_code: str
    status: str
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    note: str | None


class AlertAnswer(_In):
    note: Annotated[str, text_block(1000, min_length=0)] = ""


class DetectRequest(_In):
    day: date = Field(strict=False)
    hour: Annotated[int, JSON_INTEGER] = Field(default=24, ge=1, le=24)


class DetectView(BaseModel):
    day: date
    hour: int
    basis: str
    venues: int
    raised: list[AlertView]


class AreaCountView(BaseModel):
    code: str
    name_zh: str
    name_en: str
    scans: int
    usual: float = Field(description="A usual day's scans by the same time of day.")


class DayCount(BaseModel):
    day: date
    scans: int


class TopVenue(BaseModel):
    venue_id: str
    venue_name: str
    street_code: str
    category_code: str
    scans: int


class OverviewView(BaseModel):
    day: date
    hours: float = Field(description="Hours of the day counted: 24 for a day gone.")
    basis: str = Field(description="What usual is: same_weekday, recent_days, or none.")
    scans: int = Field(description="Scans on the day (today: so far).")
    usual_so_far: float = Field(description="Median of the baseline days by the same time.")
    usual_day: float = Field(description="Median of the baseline days' totals.")
    hourly: list[int] = Field(description="The day's scans per local hour (24).")
    usual_hourly: list[float] = Field(description="The baseline days' median per hour.")
    trend: list[DayCount] = Field(description="The 28 days to the day (from the first scans).")
    streets: list[AreaCountView]
    categories: list[AreaCountView]
    top_venues: list[TopVenue]
    open_alerts: int = Field(description="Alerts nobody has acknowledged yet, in your scope.")


class VenueDayView(BaseModel):
    venue_id: str
    venue_name: str
    street_code: str
    category_code: str
    day: date
    hours: float
    basis: str
    scans: int
    usual_so_far: float
    hourly: list[int]
    usual_hourly: list[float] = Field(description="The baseline days' median per hour.")
    low: list[float] = Field(description="The quietest baseline day, hour by hour.")
    high: list[float] = Field(description="The busiest baseline day, hour by hour.")
    alerts: list[AlertView] = Field(description="This venue's alerts over the 28 days.")


class SilentVenue(BaseModel):
    venue_id: str
    venue_name: str
    street_code: str


class CoverageView(BaseModel):
    venues: dict[str, dict[str, int]] = Field(description="street → category → live venues")
    key_places: dict[str, dict[str, int]] = Field(
        description="large supermarkets and wet markets: registered, with a live code"
    )
    silent_days: int
    silent: list[SilentVenue] = Field(
        description="Live codes without a scan in silent_days (the first 1,000)."
    )
    silent_total: int
    per_venue: dict[str, int] = Field(description="Yesterday's scans per venue, in buckets.")
