"""Real-name registration: people are known by a keyed pseudonym, their identity sealed."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from placecode.clock import clock
from placecode.config import Settings
from placecode.db import DriverSql, in_chunks, insert_ignoring_conflicts
from placecode.errors import Conflict, InvalidInput, NotFound
from placecode.i18n import N_, _
from placecode.people.documents import (
    DocType,
    Document,
    mask_name,
    mask_phone,
    normalise_document,
    normalise_name,
    normalise_phone,
)
from placecode.people.models import Companion, Person, SignInCode
from placecode.people.sealing import Identity, Sealer

UNKNOWN_NAME = "—"
MAX_COMPANIONS = 8
RELATIONSHIP_LABELS = {
    "parent": N_("Parent"),
    "child": N_("Child"),
    "spouse": N_("Spouse"),
    "grandparent": N_("Grandparent"),
    "grandchild": N_("Grandchild"),
    "other": N_("Other"),
}
RELATIONSHIPS = tuple(RELATIONSHIP_LABELS)


@dataclass(frozen=True)
class PersonDetails:
    """Who someone is, as checked and normalised; sealed before anything is stored."""

    document: Document
    name: str | None = None
    phone: str | None = None

    @property
    def identity(self) -> Identity:
        return Identity(name=self.name, doc_number=self.document.number, phone=self.phone)

    @property
    def name_masked(self) -> str:
        return mask_name(self.name) if self.name else UNKNOWN_NAME

    @property
    def phone_masked(self) -> str | None:
        return mask_phone(self.phone) if self.phone else None


def read_details(
    *,
    doc_type: DocType | str,
    doc_number: str,
    name: str | None = None,
    phone: str | None = None,
    today: date | None = None,
) -> PersonDetails:
    """Check what a person (or a form, a file, an identity provider) says about them."""
    document = normalise_document(doc_type, doc_number, today=today or clock.today())
    return PersonDetails(
        document=document,
        name=normalise_name(name) if name and name.strip() else None,
        phone=normalise_phone(phone) if phone and phone.strip() else None,
    )


@lru_cache(maxsize=4)
def _pepper(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def person_key_of(settings: Settings, document: Document) -> str:
    """HMAC-SHA256(pepper, doc_type:number), first 16 bytes, in hex: the pseudonym."""
    return PersonKeys(settings).of(document.doc_type.value, document.number)


class PersonKeys:
    """The pseudonyms of many documents under one deployment's pepper (read once)."""

    def __init__(self, settings: Settings) -> None:
        self._pepper = _pepper(settings.secret("pepper"))

    def of(self, doc_type: str, number: str) -> str:
        # hmac.digest is the one-shot C path: a fifth of hmac.new's cost, which counts when
        # a district's million residents are keyed in one go.
        return hmac.digest(self._pepper, f"{doc_type}:{number}".encode(), "sha256")[:16].hex()

    def of_many(self, doc_types: Sequence[str], numbers: Sequence[str]) -> list[str]:
        """`of` for many documents at once: the keyed state is set up once and copied for
        each (a third less than hmac.digest's setting it up every time)."""
        keyed = hmac.new(self._pepper, digestmod=hashlib.sha256)
        keys = []
        for doc_type, number in zip(doc_types, numbers, strict=True):
            mac = keyed.copy()
            mac.update(f"{doc_type}:{number}".encode())
            keys.append(mac.digest()[:16].hex())
        return keys


def get_person(*, session: Session, person_key: str) -> Person:
    person = session.scalars(select(Person).where(Person.person_key == person_key)).first()
    if person is None:
        raise NotFound(_("This person is not registered."), code="unknown_person")
    return person


def find_person(*, session: Session, person_key: str) -> Person | None:
    return session.scalars(select(Person).where(Person.person_key == person_key)).first()


Known = dict[str, tuple[int, str]]  # person_key -> (id, masked name)


def look_up_later(sql: DriverSql, keys: Sequence[str]) -> Callable[[], Known]:
    """Send the lookup of these people now; their ids and masked names when called (the
    check-in writer sends it with its other reads, see `DriverSql.together`)."""
    pending = []
    for chunk in in_chunks(list(dict.fromkeys(keys))):
        among, parameters = sql.among(chunk, "text")
        lookup = "SELECT id, person_key, name_masked FROM persons WHERE person_key "
        pending.append(sql.later(lookup + among, parameters))

    def known() -> Known:
        return {key: (person_id, name) for rows in pending for person_id, key, name in rows()}

    return known


def ensure_people(
    *,
    session: Session,
    settings: Settings,
    sealer: Sealer,
    people: Sequence[tuple[str, PersonDetails | None]],
    source: str,
    sources: Mapping[str, str] | None = None,
    known: Known | None = None,
) -> dict[str, int]:
    """The ids of these people, registering (and sealing, in one batch) those not yet known,
    as coming from `source` (or from `sources[key]`, given one: the check-in writer's
    batch registers each newcomer with the channel they scanned through).

    Someone registered before without a name (a sentinel took only their ID number) is
    completed when a name comes along. People unknown and without details are left out.
    `known`: the lookup of these people (`look_up_later`), if the caller made it already.
    The check-in writer calls this for every batch, so it speaks to the driver directly.
    """
    sql = DriverSql(session)
    if known is None:
        known = look_up_later(sql, [key for key, _details in people])()
    else:
        known = dict(known)
    details_by_key: dict[str, PersonDetails] = {}
    for key, details in people:
        if details is not None and (key not in details_by_key or details.name):
            details_by_key[key] = details
    new = [(key, d) for key, d in details_by_key.items() if key not in known]
    completing = [
        (key, d)
        for key, d in details_by_key.items()
        if key in known and known[key][1] == UNKNOWN_NAME and d.name
    ]
    if not new and not completing:
        return {key: value[0] for key, value in known.items()}
    sealed = sealer.seal_batch(
        [(details.identity, key.encode()) for key, details in new + completing]
    )
    if new:
        now = sql.timestamp(clock.now())
        sql.many(
            "INSERT INTO persons (person_key, doc_type, sealed, name_masked, doc_masked, "  # noqa: S608
            f"phone_masked, source, created_at) VALUES ({sql.marks(8)}) "
            "ON CONFLICT (person_key) DO NOTHING",
            [
                (
                    key,
                    details.document.doc_type.value,
                    envelope,
                    details.name_masked,
                    details.document.masked,
                    details.phone_masked,
                    sources.get(key, source) if sources else source,
                    now,
                )
                for (key, details), envelope in zip(new, sealed[: len(new)], strict=True)
            ],
        )
        for key, (person_id, _name) in look_up_later(sql, [key for key, _d in new])().items():
            known[key] = (person_id, details_by_key[key].name_masked)
    if completing:
        # In plain SQL (the writer's batch may be inside `together`, where the ORM is not);
        # a Person the session holds is expired so that it reads the new values.
        sql.many(
            f"UPDATE persons SET sealed = {sql.mark}, name_masked = {sql.mark}, "  # noqa: S608
            f"phone_masked = COALESCE({sql.mark}, phone_masked) WHERE id = {sql.mark}",
            [
                (envelope, details.name_masked, details.phone_masked or None, known[key][0])
                for (key, details), envelope in zip(completing, sealed[len(new) :], strict=True)
            ],
        )
        for key, _details in completing:
            held = session.identity_map.get(session.identity_key(Person, known[key][0]))
            if held is not None:
                session.expire(held)
    return {key: value[0] for key, value in known.items()}


def register_person(
    *, session: Session, settings: Settings, sealer: Sealer, details: PersonDetails, source: str
) -> Person:
    """Register someone (or find them: the same document is the same person)."""
    key = person_key_of(settings, details.document)
    ensure_people(
        session=session, settings=settings, sealer=sealer, people=[(key, details)], source=source
    )
    return get_person(session=session, person_key=key)


# --- companions -------------------------------------------------------------------------


@dataclass(frozen=True)
class CompanionView:
    person_key: str
    name_masked: str
    doc_masked: str
    relationship: str
    with_me: bool


def list_companions(*, session: Session, guardian: Person) -> list[CompanionView]:
    rows = session.execute(
        select(Companion, Person)
        .join(Person, Person.id == Companion.dependent_id)
        .where(Companion.guardian_id == guardian.id)
        .order_by(Companion.id)
    )
    return [
        CompanionView(
            person_key=person.person_key,
            name_masked=person.name_masked,
            doc_masked=person.doc_masked,
            relationship=companion.relationship,
            with_me=companion.with_me,
        )
        for companion, person in rows
    ]


def add_companion(
    *,
    session: Session,
    settings: Settings,
    sealer: Sealer,
    guardian: Person,
    details: PersonDetails,
    relationship: str,
) -> CompanionView:
    """Register a dependent (an elderly parent, a child) to check in together."""
    if relationship not in RELATIONSHIPS:
        raise InvalidInput(
            _("Choose the relationship: {choices}.").format(choices=", ".join(RELATIONSHIPS)),
            code="relationship",
            details={"field": "relationship"},
        )
    if details.name is None:
        raise InvalidInput(
            _("A companion's name is required."), code="name", details={"field": "name"}
        )
    dependent = register_person(
        session=session, settings=settings, sealer=sealer, details=details, source="companion"
    )
    if dependent.id == guardian.id:
        raise InvalidInput(_("You cannot be your own companion."), code="companion_self")
    existing = list_companions(session=session, guardian=guardian)
    if any(c.person_key == dependent.person_key for c in existing):
        raise Conflict(_("This companion is registered already."), code="companion_exists")
    if len(existing) >= MAX_COMPANIONS:
        raise Conflict(
            _("At most {n} companions.").format(n=MAX_COMPANIONS), code="too_many_companions"
        )
    session.add(
        Companion(
            guardian_id=guardian.id,
            dependent_id=dependent.id,
            relationship=relationship,
            with_me=True,
            created_at=clock.now(),
        )
    )
    session.flush()
    return CompanionView(
        person_key=dependent.person_key,
        name_masked=dependent.name_masked,
        doc_masked=dependent.doc_masked,
        relationship=relationship,
        with_me=True,
    )


def _companion(session: Session, guardian: Person, person_key: str) -> Companion:
    companion = session.scalars(
        select(Companion)
        .join(Person, Person.id == Companion.dependent_id)
        .where(Companion.guardian_id == guardian.id, Person.person_key == person_key)
    ).first()
    if companion is None:
        raise NotFound(_("There is no such companion."), code="unknown_companion")
    return companion


def set_with_me(*, session: Session, guardian: Person, person_key: str, with_me: bool) -> None:
    """Whether a companion comes along today (scans check them in too)."""
    _companion(session, guardian, person_key).with_me = with_me


def remove_companion(*, session: Session, guardian: Person, person_key: str) -> None:
    session.delete(_companion(session, guardian, person_key))


# --- the demo identity provider's sign-in ----------------------------------------------------

SIGN_IN_MINUTES = 10
SIGN_IN_ATTEMPTS = 5


def start_sign_in(
    *, session: Session, settings: Settings, sealer: Sealer, details: PersonDetails
) -> tuple[SignInCode, str]:
    """Hold a sign-in (already sealed) until the one-time code comes back."""
    if details.name is None or details.phone is None:
        raise InvalidInput(
            _("Your name and mobile number are needed to sign in."),
            code="name_and_phone",
            details={"field": "name" if details.name is None else "phone"},
        )
    key = person_key_of(settings, details.document)
    code = f"{secrets.randbelow(1_000_000):06d}"
    now = clock.now()
    pending = SignInCode(
        id="sig_" + secrets.token_hex(8),
        person_key=key,
        doc_type=details.document.doc_type.value,
        sealed=sealer.seal(details.identity, key.encode()),
        name_masked=details.name_masked,
        doc_masked=details.document.masked,
        phone_masked=details.phone_masked,
        code_hash=hashlib.sha256(code.encode()).hexdigest(),
        attempts=0,
        created_at=now,
        expires_at=now + timedelta(minutes=SIGN_IN_MINUTES),
    )
    session.add(pending)
    session.flush()
    return pending, code


class SignInCodeRefused(InvalidInput):
    keep_changes: ClassVar[bool] = True  # the failed attempt must count


def confirm_sign_in(*, session: Session, sign_in_id: str, code: str) -> Person:
    """Check the one-time code; the person is registered (or found) and signed in."""
    pending = session.get(SignInCode, sign_in_id)
    now = clock.now()
    if pending is None or pending.used_at is not None or pending.expires_at <= now:
        raise SignInCodeRefused(_("This sign-in has expired; start again."), code="sign_in_expired")
    if pending.attempts >= SIGN_IN_ATTEMPTS:
        raise SignInCodeRefused(_("Too many wrong codes; start again."), code="sign_in_attempts")
    pending.attempts += 1
    if not hmac.compare_digest(
        pending.code_hash, hashlib.sha256(code.strip().encode()).hexdigest()
    ):
        raise SignInCodeRefused(_("The code is not right."), code="sign_in_code")
    pending.used_at = now
    person = find_person(session=session, person_key=pending.person_key)
    if person is None:
        session.execute(
            insert_ignoring_conflicts(session, Person.__table__, ["person_key"]),
            [
                {
                    "person_key": pending.person_key,
                    "doc_type": pending.doc_type,
                    "sealed": pending.sealed,
                    "name_masked": pending.name_masked,
                    "doc_masked": pending.doc_masked,
                    "phone_masked": pending.phone_masked,
                    "source": "self",
                    "created_at": now,
                }
            ],
        )
        person = get_person(session=session, person_key=pending.person_key)
    elif person.name_masked == UNKNOWN_NAME:
        person.sealed, person.name_masked = pending.sealed, pending.name_masked
        person.phone_masked = pending.phone_masked
    return person
