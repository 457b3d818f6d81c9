"""Users with a role and a scope (四方责任), their API tokens, sign-in throttling, the audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from placecode.db import Base
from placecode.i18n import N_


class Role(StrEnum):
    district_admin = "district_admin"
    street_admin = "street_admin"
    regulator = "regulator"
    venue_manager = "venue_manager"
    registrar = "registrar"
    cdc_analyst = "cdc_analyst"
    sentinel = "sentinel"


class ScopeKind(StrEnum):
    district = "district"
    street = "street"
    department = "department"
    organisation = "organisation"
    venue = "venue"


# What each role's scope is a code of (DESIGN, "Who uses it").
ROLE_SCOPE: dict[Role, ScopeKind] = {
    Role.district_admin: ScopeKind.district,
    Role.street_admin: ScopeKind.street,
    Role.regulator: ScopeKind.department,
    Role.venue_manager: ScopeKind.organisation,
    Role.registrar: ScopeKind.venue,
    Role.cdc_analyst: ScopeKind.district,
    Role.sentinel: ScopeKind.venue,
}


ROLE_LABELS: dict[Role, str] = {
    Role.district_admin: N_("District administrator"),
    Role.street_admin: N_("Street/town administrator"),
    Role.regulator: N_("Department regulator"),
    Role.venue_manager: N_("Venue manager"),
    Role.registrar: N_("Registrar"),
    Role.cdc_analyst: N_("CDC analyst"),
    Role.sentinel: N_("Sentinel device"),
}

SCOPE_LABELS: dict[ScopeKind, str] = {
    ScopeKind.district: N_("Whole district"),
    ScopeKind.street: N_("Street/town"),
    ScopeKind.department: N_("Department"),
    ScopeKind.organisation: N_("Organisation"),
    ScopeKind.venue: N_("Venue"),
}


class User(Base):
    """A person (or, for role sentinel, a device) who acts within one scope."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    scope: Mapped[str | None] = mapped_column(String(64), index=True)
    # Devices have no password: they only ever present an API token.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped when the account is disabled or its password changes, which ends every
    # session cookie issued before.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    last_sign_in_at: Mapped[datetime | None]

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")

    __table_args__ = (
        CheckConstraint(
            "role IN (" + ", ".join(f"'{role.value}'" for role in Role) + ")", name="role"
        ),
        CheckConstraint(
            "(role IN ('district_admin', 'cdc_analyst')) = (scope IS NULL)", name="scope"
        ),
    )


class ApiToken(Base):
    """A bearer token; only its SHA-256 is kept, the secret is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class SignInThrottle(Base):
    """Failed sign-ins per username, known or not, so both are treated alike."""

    __tablename__ = "sign_in_throttle"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]


class AuditEntry(Base):
    """Who did what to whom, when, and why (the stated purpose, where one is required)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    actor_role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(60), index=True)
    target: Mapped[str | None] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(64))
