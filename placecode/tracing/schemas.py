"""API shapes of tracing: what to trace, trajectories, contacts, cases, re-identification."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from placecode.fields import JSON_INTEGER, one_line, text_block
from placecode.people.documents import DocType
from placecode.people.schemas import DocNumber
from placecode.tracing.service import CaseStatus, Finding

Moment = Annotated[str, one_line(40)]
PersonKey = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class IndexPerson(_In):
    """An index case: by pseudonym, or by document (sent in the body, never in a URL)."""

    person_key: PersonKey | None = None
    doc_type: DocType | None = Field(default=None, strict=False)
    doc_number: DocNumber | None = None
    since: Moment | None = Field(
        default=None,
        description="ISO 8601, without an offset local time. Default: the onset or sampling "
        "minus the look-back days.",
    )
    until: Moment | None = Field(
        default=None, description="Default: the case's confirmation (isolation), or now."
    )


class RiskyVenue(_In):
    venue_id: Annotated[str, one_line(16)]
    starts_at: Moment
    ends_at: Moment
    note: Annotated[str, text_block(500)] | None = None


class TraceRequest(_In):
    people: list[IndexPerson] = Field(default_factory=list, max_length=100)
    venues: list[RiskyVenue] = Field(default_factory=list, max_length=50)
    degree: Literal[1, 2] = 2
    # The bounds inside the Annotated: on the optional field they would not reach the schema.
    threshold_minutes: Annotated[int, Field(ge=1, le=1440), JSON_INTEGER] | None = Field(
        default=None, description="Default: the close-contact setting (15)."
    )


class CaseCreate(TraceRequest):
    title: Annotated[str, one_line(200, min_length=0)] = ""


class VisitView(BaseModel):
    check_in_id: int
    venue_id: str
    venue_name: str
    street_code: str
    category_code: str
    start: datetime
    end: datetime


class TrajectoryView(BaseModel):
    person_key: str
    name_masked: str
    cluster: int
    since: datetime
    until: datetime
    visits: list[VisitView]


class ContactView(BaseModel):
    person_key: str
    name_masked: str
    doc_masked: str
    phone_masked: str | None
    degree: int
    finding: Finding
    overlap_minutes: float
    first_at: datetime
    venue_id: str
    venue_name: str
    via_person_key: str | None = Field(description="The index case or close contact met most.")
    cluster: int


class RiskyVenueView(BaseModel):
    venue_id: str
    venue_name: str
    starts_at: datetime
    ends_at: datetime
    note: str | None


class TraceView(BaseModel):
    trajectories: list[TrajectoryView]
    contacts: list[ContactView]
    clusters: int


class CaseSummary(BaseModel):
    id: str
    title: str
    status: CaseStatus
    degree: int
    threshold_minutes: int
    created_by: str
    created_at: datetime
    traced_at: datetime | None
    confirmed_by: str | None
    confirmed_at: datetime | None
    withdrawn_by: str | None
    withdrawn_at: datetime | None


class RerunView(BaseModel):
    added: int = Field(description="People found now who were not before.")
    gone: int = Field(description="People found before who are not now.")
    changed: int = Field(description="People found both times whose finding changed.")


class CaseView(CaseSummary):
    trajectories: list[TrajectoryView]
    venues: list[RiskyVenueView]
    contacts: list[ContactView] = Field(description="A page of the findings, closest first.")
    contacts_total: int
    clusters: int
    rerun: RerunView | None = Field(
        default=None, description="After tracing again: how the findings compare."
    )


class Confirmed(BaseModel):
    events_added: int


class Withdrawal(_In):
    reason: Annotated[str, one_line(500)]


class Withdrawn(BaseModel):
    events_withdrawn: int


class ReidentifyRequest(_In):
    person_keys: list[PersonKey] = Field(min_length=1, max_length=5000)
    purpose: Annotated[str, one_line(500, min_length=0)] = Field(
        description="Why (audited with every person re-identified)."
    )


class ReidentifiedView(BaseModel):
    person_key: str
    doc_type: str
    name: str | None
    doc_number: str | None
    phone: str | None


class ReidentificationView(BaseModel):
    at: datetime
    actor: str
    person_key: str | None
    purpose: str | None
    case_id: str | None
