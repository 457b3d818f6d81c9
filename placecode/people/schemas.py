"""API shapes of citizens: sign-in, their own person, companions, personal code."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from placecode.fields import one_line
from placecode.people.documents import DocType

DocNumber = Annotated[str, one_line(40)]
PersonName = Annotated[str, one_line(60)]
Phone = Annotated[str, one_line(30)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SignInStart(_In):
    doc_type: DocType = Field(strict=False)
    doc_number: DocNumber
    name: PersonName
    phone: Phone


class SignInStarted(BaseModel):
    sign_in_id: str
    expires_at: datetime
    demo_code: str | None = Field(
        default=None, description="Shown only by the demo identity provider (no SMS is sent)."
    )


class SignInConfirm(_In):
    code: Annotated[str, one_line(12)]


class CompanionView(BaseModel):
    person_key: str
    name_masked: str
    doc_masked: str
    relationship: str
    with_me: bool


class PersonView(BaseModel):
    person_key: str
    name_masked: str
    doc_masked: str
    channel: str
    companions: list[CompanionView]


class SignedIn(BaseModel):
    token: str = Field(description="The citizen's person token (also set as a cookie on pages).")
    person: PersonView


class CompanionCreate(_In):
    doc_type: DocType = Field(strict=False)
    doc_number: DocNumber
    name: PersonName
    phone: Phone | None = None
    relationship: Annotated[str, one_line(20)]


class CompanionUpdate(_In):
    with_me: bool


class PersonalCode(BaseModel):
    token: str
    expires_at: datetime
    svg: str = Field(description="The QR of the token as inline SVG.")
