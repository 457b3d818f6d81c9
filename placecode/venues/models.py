"""Organisations, the venue register, its history, and the keys that sign venue codes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from placecode.db import Base
from placecode.i18n import N_


class OrganisationKind(StrEnum):
    enterprise = "enterprise"
    individual_business = "individual_business"
    property_manager = "property_manager"
    market_operator = "market_operator"
    street_office = "street_office"


# Organisations that may register a venue on behalf of a shop without a certificate.
MANAGING_KINDS = frozenset(
    {
        OrganisationKind.property_manager,
        OrganisationKind.market_operator,
        OrganisationKind.street_office,
    }
)

KIND_LABELS = {
    OrganisationKind.enterprise: N_("Enterprise"),
    OrganisationKind.individual_business: N_("Individual business"),
    OrganisationKind.property_manager: N_("Property manager"),
    OrganisationKind.market_operator: N_("Market operator"),
    OrganisationKind.street_office: N_("Street office"),
}


class VenueStatus(StrEnum):
    active = "active"
    suspended = "suspended"
    revoked = "revoked"


STATUS_LABELS = {
    VenueStatus.active: N_("Active"),
    VenueStatus.suspended: N_("Suspended"),
    VenueStatus.revoked: N_("Revoked"),
}


class Organisation(Base):
    """A legal entity identified by its 统一社会信用代码, verified by its certificate."""

    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    street_code: Mapped[str | None] = mapped_column(ForeignKey("streets.code"), index=True)
    verified_at: Mapped[datetime | None]
    certificate_sha256: Mapped[str | None] = mapped_column(String(64))
    certificate_subject: Mapped[str | None] = mapped_column(String(500))
    certificate_not_after: Mapped[datetime | None]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{kind.value}'" for kind in OrganisationKind) + ")",
            name="kind",
        ),
    )


class CertificateChallenge(Base):
    """A one-time text the holder of a certificate signs to prove they hold its key."""

    __tablename__ = "certificate_challenges"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    text: Mapped[str] = mapped_column(String(120))
    certificate_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class Venue(Base):
    """A place with a posted code: the unit of check-in, tracing and foot traffic."""

    __tablename__ = "venues"

    id: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    street_code: Mapped[str] = mapped_column(ForeignKey("streets.code"))
    category_code: Mapped[str] = mapped_column(ForeignKey("venue_categories.code"))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    organisation_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"))
    # The shop's own name and code when someone else registered it on its behalf.
    operator_name: Mapped[str | None] = mapped_column(String(200))
    operator_uscc: Mapped[str | None] = mapped_column(String(18))
    delegated: Mapped[bool] = mapped_column(Boolean, default=False)
    vouched_by: Mapped[str | None] = mapped_column(String(80))
    capacity: Mapped[int | None] = mapped_column(Integer)
    entry_policy: Mapped[str | None] = mapped_column(String(40))  # None: the category's
    dwell_minutes: Mapped[int | None] = mapped_column(Integer)  # None: the category's
    status: Mapped[str] = mapped_column(String(12), default=VenueStatus.active.value)
    code_version: Mapped[int] = mapped_column(Integer, default=1)
    # Normalised name and address: the same place is registered once.
    natural_key: Mapped[str] = mapped_column(String(40), unique=True)
    registered_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint("status IN ('active', 'suspended', 'revoked')", name="status"),
        CheckConstraint("code_version >= 1", name="code_version"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity"),
        CheckConstraint(
            "dwell_minutes IS NULL OR (dwell_minutes > 0 AND dwell_minutes <= 1440)",
            name="dwell_minutes",
        ),
        Index("ix_venues_street_code_category_code", "street_code", "category_code"),
        Index("ix_venues_organisation_id", "organisation_id"),
        Index("ix_venues_category_code", "category_code"),
    )


class VenueEvent(Base):
    """The history of a venue: registration, changes, status, re-issued codes, takeovers."""

    __tablename__ = "venue_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[str] = mapped_column(ForeignKey("venues.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(30))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
