"""API shapes of organisations and venues."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from placecode.accounts.schemas import DisplayName, Password, Username
from placecode.fields import JSON_INTEGER, one_line
from placecode.region.models import EntryPolicy
from placecode.venues.models import OrganisationKind, VenueStatus


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


Name = Annotated[str, one_line(200)]
Address = Annotated[str, one_line(300)]
Code = Annotated[str, one_line(40)]
Uscc = Annotated[str, one_line(40)]  # checked by normalise_uscc, which says what is wrong
Pem = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
Signature = Annotated[
    str, StringConstraints(min_length=1, max_length=2_000, pattern=r"^[A-Za-z0-9+/=_-]+$")
]
Longitude = Annotated[float, Field(ge=-180, le=180, strict=False)]
Latitude = Annotated[float, Field(ge=-90, le=90, strict=False)]
Capacity = Annotated[int, Field(ge=1, le=1_000_000), JSON_INTEGER]
DwellMinutes = Annotated[int, Field(ge=1, le=1440), JSON_INTEGER]


class OrganisationCreate(_In):
    name: Name
    kind: OrganisationKind = Field(strict=False)
    uscc: Uscc
    street_code: Code | None = None


class OrganisationView(_Out):
    id: str
    name: str
    kind: OrganisationKind
    uscc: str
    street_code: str | None
    verified_at: datetime | None
    certificate_subject: str | None
    certificate_not_after: datetime | None
    created_at: datetime


class ChallengeRequest(_In):
    certificate_pem: Pem


class ChallengeView(BaseModel):
    challenge_id: str
    challenge: str = Field(description="Sign exactly this text (UTF-8) with the certificate's key.")
    expires_at: datetime
    uscc: str
    name: str


class Proof(_In):
    """A certificate and the challenge signed with its key (base64, DER or raw r||s)."""

    certificate_pem: Pem
    challenge_id: Annotated[str, one_line(24)]
    signature: Signature


class Application(Proof):
    """An organisation applies with its certificate and gets a venue manager account."""

    kind: OrganisationKind = Field(strict=False)
    street_code: Code | None = None
    username: Username
    password: Password
    display_name: DisplayName | None = None


class ApplicationResult(BaseModel):
    organisation: OrganisationView
    username: str


class VenueCreate(_In):
    name: Name
    address: Address
    street: Code = Field(description="Street code or its Chinese name.")
    category: Code = Field(description="Category code or its Chinese name.")
    lon: Longitude | None = Field(default=None, description="Default: the street's centroid.")
    lat: Latitude | None = None
    capacity: Capacity | None = None
    entry_policy: EntryPolicy | None = Field(
        default=None, strict=False, description="Default: the category's."
    )
    dwell_minutes: DwellMinutes | None = Field(
        default=None,
        description="How long a visit lasts here for tracing; default: the category's.",
    )
    operator_name: Name | None = Field(
        default=None, description="The shop's own name when registering on its behalf."
    )
    operator_uscc: Uscc | None = Field(
        default=None, description="The shop's code, so it can take the venue over later."
    )
    organisation_id: Annotated[str, one_line(16)] | None = Field(
        default=None, description="District admins only: the organisation that manages it."
    )


class VenueUpdate(_In):
    name: Name | None = None
    address: Address | None = None
    lon: Longitude | None = None
    lat: Latitude | None = None
    capacity: Capacity | None = None
    entry_policy: EntryPolicy | None = Field(default=None, strict=False)
    dwell_minutes: DwellMinutes | None = None
    operator_uscc: Uscc | None = None


class StatusChange(_In):
    reason: Annotated[str, one_line(300, min_length=0)] = ""


class VenueView(_Out):
    id: str
    name: str
    address: str
    street_code: str
    category_code: str
    lon: float
    lat: float
    organisation_id: str | None
    operator_name: str | None
    operator_uscc: str | None
    delegated: bool
    vouched_by: str | None
    capacity: int | None
    entry_policy: EntryPolicy | None
    effective_entry_policy: EntryPolicy
    dwell_minutes: int | None
    status: VenueStatus
    code_version: int
    registered_by: str
    created_at: datetime
    updated_at: datetime


class VenuePage(BaseModel):
    total: int
    items: list[VenueView]


class VenueEventView(_Out):
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any] | None


class CodeView(BaseModel):
    venue_id: str
    version: int
    token: str
    url: str


class CodeCheck(BaseModel):
    """What a code names, for scanning apps that verify online."""

    venue_id: str
    name: str
    address: str
    street_code: str
    category_code: str
    entry_policy: EntryPolicy
