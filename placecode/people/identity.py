"""Person tokens and personal codes.

- A citizen token is issued by PlaceCode's own (demo) identity provider after a one-time
  code: `{"t": "citizen", "sub": person_key, ...masked display fields, "cmp": companions
  with them today}`. It names the person by pseudonym only.
- An external token comes from a configured issuer (随申办, WeChat, Alipay front ends) and
  carries the person's document, name and phone; the first scan registers (seals) them.
- A personal code (个人码) is a short-lived token a sentinel scans from the citizen's page.

All are EdDSA JWS. Expiry is checked against PlaceCode's one clock, so a demo living in
March 2022 and its simulator agree.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.orm import Session

from placecode import changes
from placecode.clock import clock
from placecode.config import Settings
from placecode.errors import InvalidInput, PlaceCodeError, Unauthorized
from placecode.i18n import _
from placecode.people.documents import DocType
from placecode.people.models import IdentityIssuer, Person
from placecode.people.service import CompanionView, PersonDetails, person_key_of, read_details
from placecode.signing import Keyring, SignatureRefused, b64url, b64url_decode, raw_public

CITIZEN = "citizen"
PERSONAL_CODE = "pc"
ISSUERS_COUNTER = "identity_issuers"
CHANNELS = ("suishenban", "wechat", "alipay", "web")
MAX_CACHED = 200_000

TOKENS_VERIFIED = Counter(
    "placecode_person_tokens_verified_total",
    "Person tokens read and their signature verified, not recognised from memory",
)


class IdentityRefused(Unauthorized):
    """A person token that cannot be used; the code says why."""


class PersonalCodeRefused(PlaceCodeError):
    status: ClassVar[int] = 422


@dataclass(frozen=True)
class CompanionClaim:
    person_key: str
    name_masked: str
    doc_masked: str


@dataclass(frozen=True)
class PersonClaim:
    """Who a token names, and what to register if they are new."""

    person_key: str
    channel: str
    name_masked: str
    doc_masked: str
    details: PersonDetails | None = None  # external tokens: registered on first sight
    companions: tuple[CompanionClaim, ...] = ()
    expires_at: datetime | None = None


def _expires(claims: dict[str, Any]) -> datetime | None:
    exp = claims.get("exp")
    if exp is None:
        return None
    if not isinstance(exp, int | float):
        raise IdentityRefused(_("This sign-in cannot be read."), code="person_token_invalid")
    return datetime.fromtimestamp(exp, clock.zone)


class IdentityBook:
    """Issues citizen tokens and personal codes; recognises every accepted person token."""

    def __init__(self, settings: Settings, keyring: Keyring) -> None:
        self.settings = settings
        self.keyring = keyring
        self._issuers: dict[str, tuple[Ed25519PublicKey, str]] = {}
        self._cache: dict[str, PersonClaim] = {}
        self._watch = changes.Watcher(ISSUERS_COUNTER, settings.cache_poll_seconds)

    def _sync(self, session: Session) -> None:
        if self.keyring.sync(session):
            self._cache = {}

        self._watch.refresh(session, lambda: self._load_issuers(session))

    def _load_issuers(self, session: Session) -> None:
        issuers = session.scalars(select(IdentityIssuer).where(IdentityIssuer.revoked_at.is_(None)))
        self._issuers = {
            issuer.name: (
                Ed25519PublicKey.from_public_bytes(b64url_decode(issuer.public_key)),
                issuer.channel,
            )
            for issuer in issuers
        }
        self._cache = {}

    def warm(self, *, session: Session) -> None:
        """Load keys and issuers now (at start-up) rather than on the first request."""
        self._sync(session)

    # Issuing -----------------------------------------------------------------------------

    def citizen_token(
        self,
        *,
        session: Session,
        person: Person,
        companions: Sequence[CompanionView] = (),
    ) -> str:
        expires = clock.now() + timedelta(days=self.settings.citizen_token_days)
        payload: dict[str, Any] = {
            "t": CITIZEN,
            "sub": person.person_key,
            "dt": person.doc_type,
            "nm": person.name_masked,
            "dm": person.doc_masked,
            "exp": int(expires.timestamp()),
        }
        with_me = [[c.person_key, c.name_masked, c.doc_masked] for c in companions if c.with_me]
        if with_me:
            payload["cmp"] = with_me
        return self.keyring.sign(session=session, payload=payload)

    def personal_code(self, *, session: Session, person_key: str) -> tuple[str, datetime]:
        expires = clock.now() + timedelta(seconds=self.settings.personal_code_seconds)
        token = self.keyring.sign(
            session=session,
            payload={"t": PERSONAL_CODE, "sub": person_key, "exp": int(expires.timestamp())},
        )
        return token, expires

    # Recognising -----------------------------------------------------------------------

    def cached(self, token: str) -> PersonClaim | None:
        """The person of a token recognised recently, without touching the database (or
        None: then call `identify`)."""
        if not (self.keyring.fresh() and self._watch.fresh()):
            return None
        claim = self._cache.get(token)
        if claim is None or (claim.expires_at is not None and claim.expires_at <= clock.now()):
            return None
        return claim

    def identify(self, *, session: Session, token: str) -> PersonClaim:
        """The person a citizen or external token names, or IdentityRefused."""
        self._sync(session)
        claim = self._cache.get(token)
        if claim is None:
            TOKENS_VERIFIED.inc()
            try:
                claim = self._read(token)
            except IdentityRefused as refused:
                if refused.code != "unknown_issuer":
                    raise
                # Added a moment ago, while another thread was reloading: look once more.
                self._load_issuers(session)
                claim = self._read(token)
            if len(self._cache) >= MAX_CACHED:
                self._cache = {}
            self._cache[token] = claim
        if claim.expires_at is not None and claim.expires_at <= clock.now():
            raise IdentityRefused(
                _("Your sign-in has expired; please sign in again."), code="person_token_expired"
            )
        return claim

    def _read(self, token: str) -> PersonClaim:
        # Only to learn who signed it: the payload is read again once the signature holds.
        # (Reading it by hand costs a tenth of a full PyJWT decode; this is the scan path.)
        try:
            payload = token.split(".")[1]
            unverified = json.loads(b64url_decode(payload))
            if not isinstance(unverified, dict):
                raise ValueError
        except (IndexError, ValueError, UnicodeDecodeError):
            raise IdentityRefused(
                _("This sign-in cannot be read."), code="person_token_invalid"
            ) from None
        issuer = unverified.get("iss")
        if issuer is None:
            return self._read_citizen(token)
        return self._read_external(token, issuer)

    def _read_citizen(self, token: str) -> PersonClaim:
        try:
            claims, _kid = self.keyring.verify(token)
        except SignatureRefused:
            raise IdentityRefused(
                _("This sign-in was not issued by PlaceCode or has been altered."),
                code="person_token_invalid",
            ) from None
        if claims.get("t") != CITIZEN or not isinstance(claims.get("sub"), str):
            raise IdentityRefused(_("This is not a sign-in token."), code="person_token_invalid")
        companions = tuple(
            CompanionClaim(person_key=str(key), name_masked=str(name), doc_masked=str(doc))
            for key, name, doc in claims.get("cmp", [])
        )
        return PersonClaim(
            person_key=claims["sub"],
            channel="web",
            name_masked=str(claims.get("nm", "")),
            doc_masked=str(claims.get("dm", "")),
            companions=companions,
            expires_at=_expires(claims),
        )

    def _read_external(self, token: str, issuer: object) -> PersonClaim:
        known = self._issuers.get(issuer) if isinstance(issuer, str) else None
        if known is None:
            raise IdentityRefused(
                _("Sign-ins from {issuer} are not accepted here.").format(issuer=issuer),
                code="unknown_issuer",
            )
        key, channel = known
        try:
            claims = jwt.decode(
                token, key, algorithms=["EdDSA"], options={"verify_exp": False, "verify_aud": False}
            )
        except jwt.PyJWTError:
            raise IdentityRefused(
                _("This sign-in's signature is wrong."), code="person_token_invalid"
            ) from None
        try:
            details = read_details(
                doc_type=str(claims.get("doc_type", "")),
                doc_number=str(claims.get("doc_number", "")),
                name=claims.get("name") if isinstance(claims.get("name"), str) else None,
                phone=claims.get("phone") if isinstance(claims.get("phone"), str) else None,
            )
        except InvalidInput as exc:
            raise IdentityRefused(
                _("The identity in this sign-in is not valid: {reason}").format(reason=exc.message),
                code="person_token_identity",
            ) from None
        return PersonClaim(
            person_key=person_key_of(self.settings, details.document),
            channel=channel,
            name_masked=details.name_masked,
            doc_masked=details.document.masked,
            details=details,
            expires_at=_expires(claims),
        )

    def read_personal_code(self, *, session: Session, token: str) -> str:
        """The pseudonym on a personal code, or PersonalCodeRefused (forged, expired)."""
        self._sync(session)
        try:
            claims, _kid = self.keyring.verify(token.strip())
        except SignatureRefused:
            raise PersonalCodeRefused(
                _("This personal code is not genuine."), code="personal_code_invalid"
            ) from None
        if claims.get("t") != PERSONAL_CODE or not isinstance(claims.get("sub"), str):
            raise PersonalCodeRefused(
                _("This is not a personal code."), code="personal_code_invalid"
            )
        expires = _expires(claims)
        if expires is None or expires <= clock.now():
            raise PersonalCodeRefused(
                _("This personal code has expired; ask the person to refresh it."),
                code="personal_code_expired",
            )
        return str(claims["sub"])


# --- issuers -------------------------------------------------------------------------------


def add_issuer(
    *, session: Session, name: str, channel: str, public_key: Ed25519PublicKey
) -> IdentityIssuer:
    """Accept person tokens signed by this issuer's key."""
    if channel not in CHANNELS:
        raise InvalidInput(
            _("The channel is one of {channels}.").format(channels=", ".join(CHANNELS)),
            code="channel",
        )
    existing = session.get(IdentityIssuer, name)
    encoded = b64url(raw_public(public_key))
    if existing is None:
        existing = IdentityIssuer(
            name=name, channel=channel, public_key=encoded, created_at=clock.now()
        )
        session.add(existing)
    else:
        existing.channel, existing.public_key, existing.revoked_at = channel, encoded, None
    session.flush()
    changes.bump(session=session, name=ISSUERS_COUNTER)
    return existing


def revoke_issuer(*, session: Session, name: str) -> None:
    issuer = session.get(IdentityIssuer, name)
    if issuer is None:
        raise InvalidInput(
            _("There is no issuer {name!r}.").format(name=name), code="unknown_issuer"
        )
    issuer.revoked_at = clock.now()
    changes.bump(session=session, name=ISSUERS_COUNTER)


def list_issuers(*, session: Session) -> list[IdentityIssuer]:
    return list(session.scalars(select(IdentityIssuer).order_by(IdentityIssuer.name)))


def external_token(
    private_key: Ed25519PrivateKey,
    *,
    issuer: str,
    doc_type: DocType | str,
    doc_number: str,
    name: str | None,
    phone: str | None,
    expires: datetime,
) -> str:
    """What an issuer's front end presents (used by the simulator and integration tests)."""
    payload: dict[str, Any] = {
        "iss": issuer,
        "doc_type": str(doc_type),
        "doc_number": doc_number,
        "exp": int(expires.timestamp()),
    }
    if name:
        payload["name"] = name
    if phone:
        payload["phone"] = phone
    return jwt.encode(payload, private_key, algorithm="EdDSA")
