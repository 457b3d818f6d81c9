"""People, known by a pseudonym; their sealed identity; companions; sign-in codes; the
identity providers whose person tokens PlaceCode accepts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from placecode.db import Base


class Person(Base):
    """A person: pseudonym, sealed name/document/phone, and masked forms for display."""

    __tablename__ = "persons"

    # A number for joins (check-ins hold it), the keyed pseudonym for everything else.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    person_key: Mapped[str] = mapped_column(String(32), unique=True)
    doc_type: Mapped[str] = mapped_column(String(20))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    name_masked: Mapped[str] = mapped_column(String(64))
    doc_masked: Mapped[str] = mapped_column(String(32))
    phone_masked: Mapped[str | None] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]


class Companion(Base):
    """A dependent (an elderly parent, a child) whom a citizen checks in with them."""

    __tablename__ = "companions"

    id: Mapped[int] = mapped_column(primary_key=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    dependent_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    relationship: Mapped[str] = mapped_column(String(20))
    with_me: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("guardian_id", "dependent_id"),)


class SignInCode(Base):
    """A one-time code for the demo identity provider's citizen sign-in."""

    __tablename__ = "sign_in_codes"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    person_key: Mapped[str] = mapped_column(String(32))
    doc_type: Mapped[str] = mapped_column(String(20))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    name_masked: Mapped[str] = mapped_column(String(64))
    doc_masked: Mapped[str] = mapped_column(String(32))
    phone_masked: Mapped[str | None] = mapped_column(String(24))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class IdentityIssuer(Base):
    """A front end (随申办, WeChat, Alipay…) whose EdDSA-signed person tokens are accepted."""

    __tablename__ = "identity_issuers"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    public_key: Mapped[str] = mapped_column(String(64))  # base64url of the raw Ed25519 key
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
