"""API shapes of health: status with reasons, CDC events, records, corrections."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from placecode.fields import one_line, text_block
from placecode.health.status import Colour, EventKind, NatResult, VaccinationState
from placecode.people.documents import DocType
from placecode.people.schemas import DocNumber, PersonName, Phone


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ReasonView(BaseModel):
    kind: str = Field(description="An event kind, positive_nat or no_recent_nat.")
    colour: Colour
    since: datetime | None
    until: datetime | None = Field(description="None: until the CDC clears it.")
    text: str


class NatBrief(BaseModel):
    sampled_at: datetime
    result: NatResult
    hours_ago: float


class StatusView(BaseModel):
    at: datetime
    colour: Colour
    reasons: list[ReasonView]
    until: datetime | None = Field(
        description="When this colour ends, if it is known (None for green or until cleared)."
    )
    nat: NatBrief | None
    vaccination: VaccinationState


class EventCreate(_In):
    """One event the CDC records for a person (registered, sealed, if new)."""

    doc_type: DocType = Field(strict=False)
    doc_number: DocNumber
    name: PersonName | None = None
    phone: Phone | None = None
    kind: EventKind = Field(strict=False)
    occurred_at: Annotated[str, one_line(40)] = Field(
        description="ISO 8601; without an offset, local time."
    )
    note: Annotated[str, text_block(1000)] | None = None


class EventView(BaseModel):
    id: int
    person_key: str
    kind: EventKind
    occurred_at: datetime
    case_id: str | None
    source: str
    note: str | None
    created_by: str
    created_at: datetime


class NatTestView(BaseModel):
    sampled_at: datetime
    result: NatResult
    institution: str | None


class VaccinationView(BaseModel):
    dose: int = Field(description="0 is a medical exemption.")
    vaccinated_at: date
    product: str


class PeriodView(BaseModel):
    since: datetime
    colour: Colour
    reasons: list[ReasonView]


class PersonLookup(_In):
    doc_type: DocType = Field(strict=False)
    doc_number: DocNumber


class PersonFound(BaseModel):
    person_key: str
    registered: bool


class PersonHealthView(BaseModel):
    """A person's health for the CDC: masked identity, status now, records and history."""

    person_key: str
    name_masked: str
    doc_masked: str
    status: StatusView
    events: list[EventView]
    nat_results: list[NatTestView]
    vaccinations: list[VaccinationView]
    history: list[PeriodView] = Field(description="Colour changes, newest first.")


class CorrectionCreate(_In):
    reason: Annotated[str, text_block(1000, min_length=5)] = Field(
        description="Why the colour is wrong (a NAT taken, a wrong contact…)."
    )


class CorrectionResolve(_In):
    outcome: Literal["kept", "cleared"]
    note: Annotated[str, text_block(1000, min_length=2)]


class CorrectionView(BaseModel):
    id: int
    state: Literal["open", "kept", "cleared"]
    reason: str
    colour: Colour = Field(description="The colour when the request was filed.")
    filed_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None = None
    resolution: str | None
    person_key: str | None = None
    name_masked: str | None = None
    doc_masked: str | None = None
