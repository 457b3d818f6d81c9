"""API shapes of check-ins: the scan's answer, sentinel and paper requests, histories."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from placecode.fields import one_line
from placecode.health.status import Colour, NatResult, VaccinationState
from placecode.people.documents import DocType
from placecode.people.schemas import DocNumber, PersonName, Phone
from placecode.region.models import EntryPolicy


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CheckInRequest(_In):
    venue_code: Annotated[str, one_line(2000)] = Field(
        description="The venue's code: the token, or the whole URL its QR holds."
    )
    channel: Literal["suishenban", "wechat", "alipay", "web"] | None = Field(
        default=None, description="Where the scan was made (an issuer's token names its own)."
    )
    with_companions: bool = True


class SentinelRequest(_In):
    """A sentinel reads a personal code, or staff type a document number."""

    personal_code: Annotated[str, one_line(2000)] | None = None
    doc_type: DocType | None = Field(default=None, strict=False)
    doc_number: DocNumber | None = None
    name: PersonName | None = None

    @model_validator(mode="after")
    def _one_way(self) -> SentinelRequest:
        if (self.personal_code is None) == (self.doc_number is None):
            raise ValueError("send either personal_code, or doc_type and doc_number")
        if self.doc_number is not None and self.doc_type is None:
            raise ValueError("doc_type is needed with doc_number")
        return self


class PaperCheckIn(_In):
    doc_type: DocType = Field(strict=False)
    doc_number: DocNumber
    name: PersonName
    phone: Phone | None = None
    scanned_at: Annotated[str, one_line(40)] | None = Field(
        default=None, description="ISO 8601; without an offset, local time. Default: now."
    )


class NatView(BaseModel):
    sampled_at: datetime
    result: NatResult
    hours_ago: float


class EntryView(BaseModel):
    allowed: bool
    reason: str


class PersonAtDoorView(BaseModel):
    check_in_id: int
    duplicate: bool = Field(description="True when this repeats a check-in of the last minutes.")
    companion: bool
    name_masked: str
    doc_masked: str
    colour: Colour
    reasons: list[str]
    until: datetime | None
    nat: NatView | None
    vaccination: VaccinationState
    entry: EntryView


class VenueBrief(BaseModel):
    id: str
    name: str
    address: str
    street_code: str
    category_code: str
    entry_policy: EntryPolicy


class ScanResult(BaseModel):
    venue: VenueBrief
    scanned_at: datetime
    people: list[PersonAtDoorView]


class SentinelResult(ScanResult):
    alarm: bool = Field(description="True when anyone here may not enter.")


class VisitView(BaseModel):
    check_in_id: int
    venue_id: str
    venue_name: str
    scanned_at: datetime
    checkout_at: datetime | None
    channel: str
    colour: str
    entry_allowed: bool
    name_masked: str | None
