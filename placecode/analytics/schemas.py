"""API shapes of foot traffic: alerts with their evidence, answers, a day's summary."""

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


class VenueCount(BaseModel):
    venue_id: str
    venue_name: str
    scans: int


class SummaryView(BaseModel):
    day: date
    scans: int
    usual: float = Field(description="The median of the baseline days' totals.")
    by_street: dict[str, int]
    by_category: dict[str, int]
    top_venues: list[VenueCount]
    alerts: int


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
