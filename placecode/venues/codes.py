"""Signed venue codes: a compact JWS (EdDSA, Ed25519) naming the venue and its code version.

The QR on a poster holds `{PUBLIC_BASE_URL}/s/{token}`, the token's payload is
`{"t": "venue", "v": venue id, "n": code version}`. A venue's code only changes when its
version or the signing key does.

On the scan path a token is checked once (signature, key, type), then looked up; the
venue's status and version are read from a per-process snapshot that is dropped within a
second of any venue change in any worker (change counters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from placecode import changes
from placecode.config import Settings
from placecode.errors import PlaceCodeError
from placecode.i18n import _
from placecode.region.models import Category
from placecode.signing import Keyring, SignatureRefused
from placecode.venues.models import Venue, VenueStatus

CODE_TYPE = "venue"
VENUES_COUNTER = "venues"
MAX_CACHED_TOKENS = 200_000


class CodeRefused(PlaceCodeError):
    """A venue code that cannot be used; `code` says why, `message` says it to a person."""


class InvalidCode(CodeRefused):
    status: ClassVar[int] = 400


class UnknownVenue(CodeRefused):
    status: ClassVar[int] = 404


class VenueSuspended(CodeRefused):
    status: ClassVar[int] = 409


class CodeGone(CodeRefused):
    status: ClassVar[int] = 410


@dataclass(frozen=True)
class VenueSnapshot:
    """What the scan path needs to know about a venue, held in memory."""

    id: str
    name: str
    address: str
    street_code: str
    category_code: str
    department_code: str
    organisation_id: str | None
    status: str
    code_version: int
    entry_policy: str
    dwell_minutes: int


@dataclass(frozen=True)
class _Claims:
    venue_id: str
    version: int
    kid: str


def load_snapshot(*, session: Session, venue_id: str) -> VenueSnapshot | None:
    row = session.execute(
        select(Venue, Category)
        .join(Category, Category.code == Venue.category_code)
        .where(Venue.id == venue_id)
    ).first()
    if row is None:
        return None
    venue, category = row
    return VenueSnapshot(
        id=venue.id,
        name=venue.name,
        address=venue.address,
        street_code=venue.street_code,
        category_code=venue.category_code,
        department_code=category.department_code,
        organisation_id=venue.organisation_id,
        status=venue.status,
        code_version=venue.code_version,
        entry_policy=venue.entry_policy or category.entry_policy,
        dwell_minutes=venue.dwell_minutes or category.dwell_minutes,
    )


def _refusal(code: str) -> InvalidCode:
    messages = {
        "malformed": (_("This is not a venue code (it cannot be read)."), "malformed_code"),
        "unsupported_alg": (
            _("This code is not signed the way venue codes are (EdDSA)."),
            "unsupported_alg",
        ),
        "unknown_key": (
            _("This code was signed with a key PlaceCode does not know."),
            "unknown_key",
        ),
        "retired_key": (
            _("This code was signed with a retired key; ask the venue for a new poster."),
            "retired_key",
        ),
        "bad_signature": (
            _("This code's signature is wrong: it may have been altered or forged."),
            "bad_signature",
        ),
    }
    message, error = messages[code]
    return InvalidCode(message, code=error)


class CodeBook:
    """Signs venue codes and verifies them, remembering what it has verified (one per app)."""

    def __init__(self, settings: Settings, keyring: Keyring) -> None:
        self.settings = settings
        self.keyring = keyring
        self._tokens: dict[str, _Claims] = {}
        self._venues: dict[str, VenueSnapshot] = {}
        self._venues_watch = changes.Watcher(VENUES_COUNTER, settings.cache_poll_seconds)

    def _sync(self, session: Session) -> None:
        if self.keyring.sync(session):
            self._tokens = {}
        self._venues_watch.refresh(session, self._venues.clear)

    def forget(self) -> None:
        """Look at keys and venues afresh on the next call (after this process changed them)."""
        self.keyring.forget()
        self._venues_watch.expire()

    def issue(self, *, session: Session, venue: Venue) -> str:
        """The venue's current code (signed with the current key)."""
        payload = {"t": CODE_TYPE, "v": venue.id, "n": venue.code_version}
        return self.keyring.sign(session=session, payload=payload)

    def url(self, token: str) -> str:
        return f"{self.settings.base_url}/s/{token}"

    def _check_token(self, token: str) -> _Claims:
        try:
            claims, kid = self.keyring.verify(token)
        except SignatureRefused as refused:
            raise _refusal(refused.code) from None
        venue_id, version = claims.get("v"), claims.get("n")
        if (
            claims.get("t") != CODE_TYPE
            or not isinstance(venue_id, str)
            or not isinstance(version, int)
        ):
            raise InvalidCode(_("This is not a venue code."), code="malformed_code")
        return _Claims(venue_id=venue_id, version=version, kid=kid)

    def snapshot(self, *, session: Session, venue_id: str) -> VenueSnapshot | None:
        """The venue as the scan path sees it (cached until a venue changes)."""
        self._sync(session)
        venue = self._venues.get(venue_id)
        if venue is None:
            venue = load_snapshot(session=session, venue_id=venue_id)
            if venue is not None:
                self._venues[venue.id] = venue
        return venue

    def cached(self, token: str) -> VenueSnapshot | None:
        """The venue of a token verified recently, without touching the database (or None:
        then call `verify`). Refusals of a known venue are raised as by `verify`."""
        if not (self.keyring.fresh() and self._venues_watch.fresh()):
            return None
        claims = self._tokens.get(token)
        venue = self._venues.get(claims.venue_id) if claims else None
        if claims is None or venue is None or claims.kid in self.keyring.retired:
            return None
        check_usable(venue, claims.version)
        return venue

    def verify(self, *, session: Session, token: str) -> VenueSnapshot:
        """The venue a code belongs to, or CodeRefused with the reason."""
        self._sync(session)
        claims = self._tokens.get(token)
        if claims is None:
            claims = self._check_token(token)
            if len(self._tokens) >= MAX_CACHED_TOKENS:
                self._tokens = {}
            self._tokens[token] = claims
        venue = self.snapshot(session=session, venue_id=claims.venue_id)
        if venue is None:
            raise UnknownVenue(
                _("This code names a venue that is not registered."), code="unknown_venue"
            )
        check_usable(venue, claims.version)
        return venue

    def jwks(self, *, session: Session) -> dict[str, Any]:
        """The public keys that verify venue codes (retired ones left out)."""
        self._sync(session)
        return self.keyring.jwks()


def check_usable(venue: VenueSnapshot, version: int | None = None) -> None:
    """Refuse a revoked or suspended venue, or an old version of its code."""
    if venue.status == VenueStatus.revoked:
        raise CodeGone(
            _("{name}: this venue's code has been revoked.").format(name=venue.name),
            code="venue_revoked",
        )
    if version is not None and version < venue.code_version:
        raise CodeGone(
            _(
                "This is an old code of {name}; a new one has been issued. Scan the new "
                "poster at the entrance."
            ).format(name=venue.name),
            code="old_code",
        )
    if version is not None and version > venue.code_version:
        raise InvalidCode(_("This is not a venue code."), code="malformed_code")
    if venue.status == VenueStatus.suspended:
        raise VenueSuspended(
            _("{name}: this venue's code is suspended for now.").format(name=venue.name),
            code="venue_suspended",
        )
