"""Signed venue codes: a compact JWS (EdDSA, Ed25519) naming the venue and its code version.

The QR on a poster holds `{PUBLIC_BASE_URL}/s/{token}`. Ed25519 signatures are
deterministic, so a venue's code only changes when its version or the signing key does.
Private keys live in files under the key directory; the database holds the public halves
(published as a JWKS so scanning apps verify offline) and which keys are retired.

On the scan path a token is checked once (signature, key, type), then looked up; the
venue's status and version are read from a per-process snapshot that is dropped within a
second of any venue change in any worker (change counters).
"""

from __future__ import annotations

import base64
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from placecode import changes
from placecode.clock import clock
from placecode.config import Settings
from placecode.errors import InvalidInput, PlaceCodeError
from placecode.i18n import _
from placecode.region.models import Category
from placecode.venues.models import SigningKey, Venue, VenueStatus

CODE_TYPE = "venue"
ALGORITHM = "EdDSA"
KEYS_COUNTER = "signing_keys"
VENUES_COUNTER = "venues"
KEY_DIR = "venue-codes"
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


# --- keys ------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_path(settings: Settings, kid: str) -> Path:
    return settings.key_dir / KEY_DIR / f"{kid}.pem"


def create_signing_key(*, session: Session, settings: Settings) -> SigningKey:
    """Make a new signing key (file + public half in the database); new codes use it."""
    private = Ed25519PrivateKey.generate()
    kid = secrets.token_hex(4)
    path = key_path(settings, kid)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600)
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key = SigningKey(
        kid=kid, public_key=_b64url(_raw_public(private.public_key())), created_at=clock.now()
    )
    session.add(key)
    session.flush()
    changes.bump(session=session, name=KEYS_COUNTER)
    return key


def list_signing_keys(*, session: Session) -> list[SigningKey]:
    return list(session.scalars(select(SigningKey).order_by(SigningKey.created_at)))


def current_signing_key(*, session: Session) -> SigningKey | None:
    """The newest key that is not retired: the one new codes are signed with."""
    return session.scalars(
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid.desc())
    ).first()


def ensure_signing_key(*, session: Session, settings: Settings) -> SigningKey:
    return current_signing_key(session=session) or create_signing_key(
        session=session, settings=settings
    )


def retire_signing_key(*, session: Session, kid: str) -> SigningKey:
    """Stop a key from verifying: every code signed with it is refused from now on."""
    key = session.get(SigningKey, kid)
    if key is None:
        raise InvalidInput(
            _("There is no signing key {kid!r}.").format(kid=kid), code="unknown_key"
        )
    current = current_signing_key(session=session)
    if current is not None and current.kid == kid:
        raise InvalidInput(
            _("{kid} signs new codes; run `placecode keys rotate` before retiring it.").format(
                kid=kid
            ),
            code="key_in_use",
        )
    if key.retired_at is None:
        key.retired_at = clock.now()
        changes.bump(session=session, name=KEYS_COUNTER)
    return key


# --- the code book -------------------------------------------------------------------------


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
        dwell_minutes=category.dwell_minutes,
    )


class CodeBook:
    """Signs venue codes and verifies them, remembering what it has verified (one per app)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._public: dict[str, Ed25519PublicKey] = {}
        self._retired: set[str] = set()
        self._current: str | None = None
        self._private: dict[str, Ed25519PrivateKey] = {}
        self._tokens: dict[str, _Claims] = {}
        self._venues: dict[str, VenueSnapshot] = {}
        self._keys_watch = changes.Watcher(KEYS_COUNTER, settings.cache_poll_seconds)
        self._venues_watch = changes.Watcher(VENUES_COUNTER, settings.cache_poll_seconds)

    # Keeping in step with other workers ------------------------------------------------

    def _sync(self, session: Session) -> None:
        if self._keys_watch.changed(session):
            self._load_keys(session)
        if self._venues_watch.changed(session):
            self._venues = {}

    def _load_keys(self, session: Session) -> None:
        keys = list_signing_keys(session=session)
        public = {
            key.kid: Ed25519PublicKey.from_public_bytes(
                base64.urlsafe_b64decode(key.public_key + "=" * (-len(key.public_key) % 4))
            )
            for key in keys
        }
        current = current_signing_key(session=session)
        with self._lock:
            self._public = public
            self._retired = {key.kid for key in keys if key.retired_at is not None}
            self._current = current.kid if current else None
            self._tokens = {}

    def forget(self) -> None:
        """Look at keys and venues afresh on the next call (after this process changed them)."""
        self._keys_watch.expire()
        self._venues_watch.expire()

    # Signing ---------------------------------------------------------------------------

    def _private_key(self, kid: str) -> Ed25519PrivateKey:
        key = self._private.get(kid)
        if key is None:
            path = key_path(self.settings, kid)
            if not path.exists():
                raise InvalidInput(
                    _(
                        "The private half of signing key {kid} is not in {dir}; codes cannot be "
                        "issued on this machine."
                    ).format(kid=kid, dir=path.parent),
                    code="signing_key_missing",
                )
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(loaded, Ed25519PrivateKey):
                raise InvalidInput(
                    _("{path} is not an Ed25519 key.").format(path=path), code="bad_signing_key"
                )
            key = self._private[kid] = loaded
        return key

    def issue(self, *, session: Session, venue: Venue) -> str:
        """The venue's current code (signed with the current key)."""
        self._sync(session)
        if self._current is None:
            ensure_signing_key(session=session, settings=self.settings)
            self.forget()
            self._sync(session)
        assert self._current is not None
        payload = {"t": CODE_TYPE, "v": venue.id, "n": venue.code_version}
        return jwt.encode(
            payload,
            self._private_key(self._current),
            algorithm=ALGORITHM,
            headers={"kid": self._current, "typ": None},
        )

    def url(self, token: str) -> str:
        return f"{self.settings.base_url}/s/{token}"

    # Verifying -------------------------------------------------------------------------

    def _check_token(self, token: str) -> _Claims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise InvalidCode(
                _("This is not a venue code (it cannot be read)."), code="malformed_code"
            ) from None
        if header.get("alg") != ALGORITHM:
            raise InvalidCode(
                _("This code is not signed the way venue codes are (EdDSA)."),
                code="unsupported_alg",
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or kid not in self._public:
            raise InvalidCode(
                _("This code was signed with a key PlaceCode does not know."), code="unknown_key"
            )
        if kid in self._retired:
            raise InvalidCode(
                _("This code was signed with a retired key; ask the venue for a new poster."),
                code="retired_key",
            )
        try:
            claims = jwt.decode(token, self._public[kid], algorithms=[ALGORITHM])
        except jwt.InvalidSignatureError:
            raise InvalidCode(
                _("This code's signature is wrong: it may have been altered or forged."),
                code="bad_signature",
            ) from None
        except jwt.PyJWTError:
            raise InvalidCode(
                _("This is not a venue code (it cannot be read)."), code="malformed_code"
            ) from None
        venue_id, version = claims.get("v"), claims.get("n")
        if (
            claims.get("t") != CODE_TYPE
            or not isinstance(venue_id, str)
            or not isinstance(version, int)
        ):
            raise InvalidCode(_("This is not a venue code."), code="malformed_code")
        return _Claims(venue_id=venue_id, version=version, kid=kid)

    def verify(self, *, session: Session, token: str) -> VenueSnapshot:
        """The venue a code belongs to, or CodeRefused with the reason."""
        self._sync(session)
        claims = self._tokens.get(token)
        if claims is None:
            claims = self._check_token(token)
            if len(self._tokens) >= MAX_CACHED_TOKENS:
                self._tokens = {}
            self._tokens[token] = claims
        elif claims.kid in self._retired:
            raise InvalidCode(
                _("This code was signed with a retired key; ask the venue for a new poster."),
                code="retired_key",
            )
        venue = self._venues.get(claims.venue_id)
        if venue is None:
            venue = load_snapshot(session=session, venue_id=claims.venue_id)
            if venue is None:
                raise UnknownVenue(
                    _("This code names a venue that is not registered."), code="unknown_venue"
                )
            self._venues[venue.id] = venue
        if venue.status == VenueStatus.revoked:
            raise CodeGone(
                _("{name}: this venue's code has been revoked.").format(name=venue.name),
                code="venue_revoked",
            )
        if claims.version < venue.code_version:
            raise CodeGone(
                _(
                    "This is an old code of {name}; a new one has been issued. Scan the new "
                    "poster at the entrance."
                ).format(name=venue.name),
                code="old_code",
            )
        if claims.version > venue.code_version:
            raise InvalidCode(_("This is not a venue code."), code="malformed_code")
        if venue.status == VenueStatus.suspended:
            raise VenueSuspended(
                _("{name}: this venue's code is suspended for now.").format(name=venue.name),
                code="venue_suspended",
            )
        return venue

    def jwks(self, *, session: Session) -> dict[str, Any]:
        """The public keys that verify venue codes (retired ones left out)."""
        self._sync(session)
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": _b64url(_raw_public(key)),
                    "kid": kid,
                    "use": "sig",
                    "alg": ALGORITHM,
                }
                for kid, key in sorted(self._public.items())
                if kid not in self._retired
            ]
        }
