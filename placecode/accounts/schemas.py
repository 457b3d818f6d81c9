"""API shapes of accounts: strict at the edge, so bad input is refused, not coerced."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from placecode.accounts.models import Role, ScopeKind
from placecode.fields import JSON_INTEGER, Line80, Line120


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


Username = Annotated[str, StringConstraints(min_length=2, max_length=64)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=200)]
TokenName = Line80
DisplayName = Line120
TokenDays = Annotated[int, Field(ge=1, le=3650), JSON_INTEGER]


class TokenRequest(_In):
    """Sign in with a password and receive an API token."""

    username: Username
    password: Password
    name: TokenName = "api"
    days: TokenDays | None = None


class TokenCreate(_In):
    name: TokenName
    days: TokenDays | None = None


class TokenView(_Out):
    id: str
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenIssued(BaseModel):
    token: TokenView
    secret: str = Field(description="The bearer secret. Shown once; PlaceCode keeps only a hash.")


class UserCreate(_In):
    username: Username
    role: Role = Field(strict=False)  # strict mode would take only Role objects, not JSON text
    scope: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    display_name: DisplayName | None = None
    password: Password | None = Field(
        default=None, description="Required for people; sentinel devices have none."
    )


class UserView(_Out):
    username: str
    display_name: str
    role: Role
    scope: str | None
    is_active: bool
    created_at: datetime
    last_sign_in_at: datetime | None


class Me(BaseModel):
    username: str
    display_name: str
    role: Role
    scope_kind: ScopeKind
    scope: str | None
    signed_in_via: str


class AuditView(_Out):
    id: int
    at: datetime
    actor: str
    actor_role: str | None
    action: str
    target: str | None
    purpose: str | None
    detail: dict[str, Any] | None
    ip: str | None
