"""Health records in and out: CDC imports (cases, NAT results, vaccinations), single CDC
events, each person's status and history from the database, and corrections (纠错).

Every change rewrites the people's profiles with a new revision in the same transaction,
so every worker's StatusBook picks it up within its poll interval.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, insert, select, update
from sqlalchemy.orm import Session

from placecode import changes
from placecode.accounts.service import Actor, record_audit
from placecode.clock import clock
from placecode.config import Settings
from placecode.db import in_chunks
from placecode.errors import Conflict, InvalidInput, NotFound
from placecode.health.book import HEALTH_COUNTER
from placecode.health.models import Correction, HealthEvent, HealthProfile, NatTest, Vaccination
from placecode.health.status import (
    EVENT_LABELS,
    Dose,
    Event,
    EventKind,
    HealthRecord,
    Nat,
    NatResult,
    PersonStatus,
    Rules,
    StatusPeriod,
    status_at,
    timeline,
    vaccination_state,
)
from placecode.i18n import N_, _
from placecode.people import service as people
from placecode.people.models import Person
from placecode.people.sealing import Sealer
from placecode.people.service import PersonDetails, person_key_of, read_details
from placecode.tables import ImportReport, Row, RowProblem, read_table

CHUNK = 2_000
EARLIEST = datetime(2019, 12, 1, tzinfo=UTC)
MAX_DOSE = 6


class ImportKind(StrEnum):
    cases = "cases"
    nat = "nat"
    vaccinations = "vaccinations"


IMPORT_LABELS = {
    ImportKind.cases: N_("Cases and contacts"),
    ImportKind.nat: N_("NAT results"),
    ImportKind.vaccinations: N_("Vaccinations"),
}
COLUMNS = {
    ImportKind.cases: (
        "doc_type",
        "doc_number",
        "name",
        "phone",
        "category",
        "occurred_at",
        "case_id",
    ),
    ImportKind.nat: ("doc_type", "doc_number", "sampled_at", "result", "institution"),
    ImportKind.vaccinations: ("doc_type", "doc_number", "dose", "vaccinated_at", "product"),
}

# What CDC lists call things, in English and in Chinese.
CATEGORIES: dict[str, EventKind] = {kind.value: kind for kind in EventKind} | {
    "确诊": EventKind.confirmed,
    "确诊病例": EventKind.confirmed,
    "无症状": EventKind.asymptomatic,
    "无症状感染者": EventKind.asymptomatic,
    "疑似": EventKind.suspected,
    "疑似病例": EventKind.suspected,
    "密接": EventKind.close_contact,
    "密切接触者": EventKind.close_contact,
    "次密接": EventKind.secondary_contact,
    "次密切接触者": EventKind.secondary_contact,
    "风险地区": EventKind.risk_area,
    "中高风险地区": EventKind.risk_area,
    "中高风险地区来沪": EventKind.risk_area,
    "暴露": EventKind.exposure,
    "风险场所暴露": EventKind.exposure,
    "时空伴随": EventKind.exposure,
    "解除": EventKind.cleared,
    "解除管控": EventKind.cleared,
}
RESULTS: dict[str, NatResult] = {result.value: result for result in NatResult} | {
    "阴性": NatResult.negative,
    "阳性": NatResult.positive,
    "待出": NatResult.pending,
    "检测中": NatResult.pending,
}
EXEMPTIONS = frozenset({"0", "exempt", "not_suitable", "不适宜", "禁忌", "不适宜接种"})


# --- reading files -----------------------------------------------------------------------


@dataclass(frozen=True)
class CaseRow:
    number: int
    person_key: str
    details: PersonDetails
    kind: EventKind
    occurred_at: datetime
    case_id: str | None


@dataclass(frozen=True)
class NatRow:
    number: int
    person_key: str
    details: PersonDetails
    sampled_at: datetime
    result: NatResult
    institution: str | None


@dataclass(frozen=True)
class DoseRow:
    number: int
    person_key: str
    details: PersonDetails
    dose: int
    vaccinated_at: date
    product: str


HealthRow = CaseRow | NatRow | DoseRow


def _refuse(message: str, field: str, code: str) -> InvalidInput:
    return InvalidInput(message, code=code, details={"field": field})


def parse_moment(raw: str, *, field: str, settings: Settings) -> datetime:
    """An ISO 8601 instant (local time without an offset), neither future nor before 2020."""
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise _refuse(
            _("{value!r} is not a date and time (YYYY-MM-DD HH:MM).").format(value=raw),
            field,
            "bad_time",
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=settings.zone)
    if value > clock.now() + timedelta(minutes=5):
        raise _refuse(
            _("{when} is in the future.").format(when=value.isoformat(timespec="minutes")),
            field,
            "future_time",
        )
    if value < EARLIEST:
        raise _refuse(
            _("{when} is before the epidemic began; check the year.").format(
                when=value.date().isoformat()
            ),
            field,
            "too_old",
        )
    return value


def _text(value: str, *, field: str, limit: int) -> str | None:
    value = " ".join(value.split())
    if len(value) > limit:
        raise _refuse(_("Longer than {limit} characters.").format(limit=limit), field, "too_long")
    return value or None


def _details(values: dict[str, str], settings: Settings) -> tuple[str, PersonDetails]:
    try:
        details = read_details(
            doc_type=values["doc_type"].strip(),
            doc_number=values["doc_number"],
            name=values.get("name") or None,
            phone=values.get("phone") or None,
        )
    except InvalidInput as exc:
        field = exc.details.get("field") if isinstance(exc.details, dict) else None
        raise _refuse(exc.message, field or "doc_number", exc.code) from None
    return person_key_of(settings, details.document), details


def parse_case(row: Row, settings: Settings) -> CaseRow:
    values = row.values
    key, details = _details(values, settings)
    category = values["category"].strip()
    kind = CATEGORIES.get(category.lower()) or CATEGORIES.get(category)
    if kind is None:
        raise _refuse(
            _("Unknown category {value!r}; use one of {known}.").format(
                value=category, known=", ".join(k.value for k in EventKind)
            ),
            "category",
            "unknown_category",
        )
    return CaseRow(
        number=row.number,
        person_key=key,
        details=details,
        kind=kind,
        occurred_at=parse_moment(values["occurred_at"], field="occurred_at", settings=settings),
        case_id=_text(values["case_id"], field="case_id", limit=40),
    )


def parse_nat(row: Row, settings: Settings) -> NatRow:
    values = row.values
    key, details = _details(values, settings)
    raw = values["result"].strip()
    result = RESULTS.get(raw.lower())
    if result is None:
        raise _refuse(
            _("Unknown result {value!r}; use negative, positive or pending.").format(value=raw),
            "result",
            "unknown_result",
        )
    return NatRow(
        number=row.number,
        person_key=key,
        details=details,
        sampled_at=parse_moment(values["sampled_at"], field="sampled_at", settings=settings),
        result=result,
        institution=_text(values["institution"], field="institution", limit=80),
    )


def parse_dose(row: Row, settings: Settings) -> DoseRow:
    values = row.values
    key, details = _details(values, settings)
    raw = values["dose"].strip().lower()
    if raw in EXEMPTIONS:
        dose = 0
    elif raw.isdigit() and 1 <= int(raw) <= MAX_DOSE:
        dose = int(raw)
    else:
        raise _refuse(
            _("Dose {value!r} is not a number from 1 to {max}, nor 'exempt'.").format(
                value=values["dose"], max=MAX_DOSE
            ),
            "dose",
            "bad_dose",
        )
    when = parse_moment(values["vaccinated_at"], field="vaccinated_at", settings=settings)
    product = _text(values["product"], field="product", limit=60)
    if product is None and dose > 0:
        raise _refuse(_("Name the vaccine product."), "product", "missing_product")
    return DoseRow(
        number=row.number,
        person_key=key,
        details=details,
        dose=dose,
        vaccinated_at=when.astimezone(settings.zone).date(),
        product=product or "",
    )


PARSERS: dict[ImportKind, Callable[[Row, Settings], HealthRow]] = {
    ImportKind.cases: parse_case,
    ImportKind.nat: parse_nat,
    ImportKind.vaccinations: parse_dose,
}


def read_health_file(
    *, kind: ImportKind, settings: Settings, filename: str, content: bytes
) -> tuple[list[Row], list[HealthRow], list[RowProblem]]:
    """Check every row of a CDC file; the good rows and a report of the bad ones."""
    rows = read_table(filename=filename, content=content, columns=COLUMNS[kind])
    parse = PARSERS[kind]
    good: list[HealthRow] = []
    problems: list[RowProblem] = []
    for row in rows:
        try:
            good.append(parse(row, settings))
        except InvalidInput as exc:
            field = exc.details.get("field", "row") if isinstance(exc.details, dict) else "row"
            problems.append(RowProblem(row=row.number, field=field, reason=exc.message))
    return rows, good, problems


# --- writing -----------------------------------------------------------------------------


@dataclass
class Stored:
    """What writing rows did; `people` are those whose records changed."""

    accepted: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    people: set[int] = field(default_factory=set)


def _store_cases(
    session: Session, rows: Sequence[CaseRow], ids: dict[str, int], actor: str, out: Stored
) -> None:
    person_ids = {ids[row.person_key] for row in rows}
    seen = {
        (person_id, kind, occurred_at)
        for person_id, kind, occurred_at in session.execute(
            select(HealthEvent.person_id, HealthEvent.kind, HealthEvent.occurred_at).where(
                HealthEvent.person_id.in_(person_ids)
            )
        )
    }
    new: list[dict[str, Any]] = []
    now = clock.now()
    for row in rows:
        key = (ids[row.person_key], row.kind.value, row.occurred_at)
        if key in seen:
            out.unchanged += 1
            continue
        seen.add(key)
        new.append(
            {
                "person_id": key[0],
                "kind": row.kind.value,
                "occurred_at": row.occurred_at,
                "case_id": row.case_id,
                "source": "import",
                "note": None,
                "created_by": actor,
                "created_at": now,
            }
        )
        out.people.add(key[0])
    if new:
        session.execute(insert(HealthEvent), new)
    out.accepted += len(new)


def _store_nats(session: Session, rows: Sequence[NatRow], ids: dict[str, int], out: Stored) -> None:
    person_ids = {ids[row.person_key] for row in rows}
    held: dict[tuple[int, datetime], tuple[int, NatResult]] = {
        (person_id, sampled_at): (test_id, NatResult(result))
        for test_id, person_id, sampled_at, result in session.execute(
            select(NatTest.id, NatTest.person_id, NatTest.sampled_at, NatTest.result).where(
                NatTest.person_id.in_(person_ids)
            )
        )
    }
    new: dict[tuple[int, datetime], dict[str, Any]] = {}
    completed: list[dict[str, Any]] = []
    now = clock.now()
    for row in rows:
        key = (ids[row.person_key], row.sampled_at)
        found = held.get(key)
        if found is None:
            out.people.add(key[0])
            held[key] = (0, row.result)
            new[key] = {
                "person_id": key[0],
                "sampled_at": row.sampled_at,
                "result": row.result.value,
                "institution": row.institution,
                "created_at": now,
            }
            continue
        test_id, result = found
        if result is row.result or row.result is NatResult.pending:
            out.unchanged += 1
        elif result is NatResult.pending:  # the laboratory's final result for a sample
            if test_id:
                completed.append({"id": test_id, "result": row.result.value})
            else:
                new[key]["result"] = row.result.value
            held[key] = (test_id, row.result)
            out.people.add(key[0])
            out.accepted += 1
        else:
            out.problems.append(
                RowProblem(
                    row=row.number,
                    field="result",
                    reason=_(
                        "This sample is already recorded as {result}; a different result needs "
                        "a correction, not an import."
                    ).format(result=result.value),
                )
            )
    if new:
        session.execute(insert(NatTest), list(new.values()))
    if completed:
        session.execute(update(NatTest), completed)
    out.accepted += len(new)


def _store_doses(
    session: Session, rows: Sequence[DoseRow], ids: dict[str, int], out: Stored
) -> None:
    person_ids = {ids[row.person_key] for row in rows}
    held: dict[tuple[int, int], tuple[date, str]] = {
        (person_id, dose): (when, product)
        for person_id, dose, when, product in session.execute(
            select(
                Vaccination.person_id,
                Vaccination.dose,
                Vaccination.vaccinated_at,
                Vaccination.product,
            ).where(Vaccination.person_id.in_(person_ids))
        )
    }
    new: list[dict[str, Any]] = []
    now = clock.now()
    for row in rows:
        key = (ids[row.person_key], row.dose)
        found = held.get(key)
        if found == (row.vaccinated_at, row.product):
            out.unchanged += 1
            continue
        if found is not None:
            out.problems.append(
                RowProblem(
                    row=row.number,
                    field="dose",
                    reason=_("Dose {dose} is already recorded, given on {day}.").format(
                        dose=row.dose, day=found[0].isoformat()
                    ),
                )
            )
            continue
        held[key] = (row.vaccinated_at, row.product)
        new.append(
            {
                "person_id": key[0],
                "dose": row.dose,
                "vaccinated_at": row.vaccinated_at,
                "product": row.product,
                "created_at": now,
            }
        )
        out.people.add(key[0])
    if new:
        session.execute(insert(Vaccination), new)
    out.accepted += len(new)


def store_rows(
    *,
    session: Session,
    settings: Settings,
    sealer: Sealer,
    rows: Sequence[HealthRow],
    actor: str,
    progress: Callable[[int, int], None] | None = None,
) -> Stored:
    """Write checked rows (people not yet known are registered, sealed); rows already
    recorded are counted as unchanged, conflicting ones reported."""
    out = Stored()
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        ids = people.ensure_people(
            session=session,
            settings=settings,
            sealer=sealer,
            people=[(row.person_key, row.details) for row in chunk],
            source="cdc",
        )
        cases = [row for row in chunk if isinstance(row, CaseRow)]
        nats = [row for row in chunk if isinstance(row, NatRow)]
        doses = [row for row in chunk if isinstance(row, DoseRow)]
        if cases:
            _store_cases(session, cases, ids, actor, out)
        if nats:
            _store_nats(session, nats, ids, out)
        if doses:
            _store_doses(session, doses, ids, out)
        if progress is not None:
            progress(len(chunk), len(rows))
    refresh_profiles(session=session, person_ids=out.people)
    return out


def import_health_file(
    *,
    session: Session,
    settings: Settings,
    sealer: Sealer,
    actor: Actor,
    kind: ImportKind,
    filename: str,
    content: bytes,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import a CDC file: good rows are written together, bad rows reported, the same file
    twice adds nothing. Audited."""
    rows, good, problems = read_health_file(
        kind=kind, settings=settings, filename=filename, content=content
    )
    stored = Stored()
    if not dry_run and good:
        stored = store_rows(
            session=session,
            settings=settings,
            sealer=sealer,
            rows=good,
            actor=actor.username,
            progress=progress,
        )
    elif dry_run:
        stored.accepted = len(good)
    problems = sorted(problems + stored.problems, key=lambda p: p.row)
    report = ImportReport(
        rows=len(rows),
        accepted=stored.accepted,
        unchanged=stored.unchanged,
        rejected=len({p.row for p in problems}),
        problems=problems,
        dry_run=dry_run,
    )
    if not dry_run:
        record_audit(
            session=session,
            actor=actor,
            action=f"health.import.{kind.value}",
            detail={
                "file": filename[:200],
                "rows": report.rows,
                "accepted": report.accepted,
                "unchanged": report.unchanged,
                "rejected": report.rejected,
            },
        )
    return report


def refresh_profiles(*, session: Session, person_ids: Iterable[int]) -> int:
    """Rewrite these people's profiles under a new revision (in the caller's transaction).

    The counter is bumped first: its row lock makes concurrent writers take revisions in
    the order they commit, so a worker that has loaded up to revision N never misses one.
    """
    ids = sorted(set(person_ids))
    if not ids:
        return changes.version(session=session, name=HEALTH_COUNTER)
    changes.bump(session=session, name=HEALTH_COUNTER)
    revision = changes.version(session=session, name=HEALTH_COUNTER)
    for chunk in in_chunks(ids):
        keys = dict(
            session.execute(select(Person.id, Person.person_key).where(Person.id.in_(chunk))).all()
        )
        latest: dict[int, tuple[datetime, str]] = {}
        watched: set[int] = set()
        for person_id, sampled_at, result in session.execute(
            select(NatTest.person_id, NatTest.sampled_at, NatTest.result).where(
                NatTest.person_id.in_(chunk)
            )
        ):
            if person_id not in latest or (sampled_at, result) > latest[person_id]:
                latest[person_id] = (sampled_at, result)
            if result == NatResult.positive.value:
                watched.add(person_id)
        doses: dict[int, list[Dose]] = {}
        for person_id, dose, when, product in session.execute(
            select(
                Vaccination.person_id,
                Vaccination.dose,
                Vaccination.vaccinated_at,
                Vaccination.product,
            ).where(Vaccination.person_id.in_(chunk))
        ):
            doses.setdefault(person_id, []).append(Dose(dose, when, product))
        watched.update(
            session.scalars(
                select(HealthEvent.person_id).where(HealthEvent.person_id.in_(chunk)).distinct()
            )
        )
        session.execute(delete(HealthProfile).where(HealthProfile.person_id.in_(chunk)))
        session.execute(
            insert(HealthProfile),
            [
                {
                    "person_id": person_id,
                    "person_key": keys[person_id],
                    "nat_sampled_at": int(latest[person_id][0].timestamp())
                    if person_id in latest
                    else None,
                    "nat_result": latest[person_id][1] if person_id in latest else None,
                    "vaccination": vaccination_state(doses.get(person_id, [])).value,
                    "watched": person_id in watched,
                    "revision": revision,
                }
                for person_id in chunk
                if person_id in keys
            ],
        )
    return revision


def record_event(
    *,
    session: Session,
    settings: Settings,
    sealer: Sealer,
    actor: Actor,
    details: PersonDetails,
    kind: EventKind,
    occurred_at: datetime,
    note: str | None = None,
    source: str = "cdc",
) -> HealthEvent:
    """Record one event for a person (registered, sealed, if not yet known). Audited."""
    person = people.register_person(
        session=session, settings=settings, sealer=sealer, details=details, source="cdc"
    )
    return _add_event(
        session=session,
        actor=actor,
        person=person,
        kind=kind,
        occurred_at=occurred_at,
        note=note,
        source=source,
    )


def record_event_for(
    *,
    session: Session,
    actor: Actor,
    person_key: str,
    kind: EventKind,
    occurred_at: datetime,
    note: str | None = None,
) -> HealthEvent:
    """Record one event for someone already registered (from their page). Audited."""
    person = people.get_person(session=session, person_key=person_key)
    return _add_event(
        session=session,
        actor=actor,
        person=person,
        kind=kind,
        occurred_at=occurred_at,
        note=note,
        source="cdc",
    )


def _add_event(
    *,
    session: Session,
    actor: Actor,
    person: Person,
    kind: EventKind,
    occurred_at: datetime,
    note: str | None,
    source: str,
) -> HealthEvent:
    exists = session.scalar(
        select(HealthEvent.id).where(
            HealthEvent.person_id == person.id,
            HealthEvent.kind == kind.value,
            HealthEvent.occurred_at == occurred_at,
        )
    )
    if exists is not None:
        raise Conflict(_("This event is already recorded."), code="event_exists")
    event = HealthEvent(
        person_id=person.id,
        kind=kind.value,
        occurred_at=occurred_at,
        case_id=None,
        source=source,
        note=note,
        created_by=actor.username,
        created_at=clock.now(),
    )
    session.add(event)
    session.flush()
    refresh_profiles(session=session, person_ids=[person.id])
    record_audit(
        session=session,
        actor=actor,
        action="health.event",
        target=person.person_key,
        detail={"kind": kind.value, "occurred_at": occurred_at.isoformat(), "source": source},
    )
    return event


def apply_tracing_events(
    *,
    session: Session,
    actor: Actor,
    case_id: str,
    events: Sequence[tuple[int, EventKind, datetime]],
) -> int:
    """The events a confirmed tracing case creates (person id, kind, from when), skipping
    any already recorded; how many were added. Audited once for the case."""
    wanted = {(person, kind.value, int(at.timestamp())): at for person, kind, at in events}
    people_ids = sorted({person for person, _kind, _at in events})
    for chunk in in_chunks(people_ids):
        for person, kind, at in session.execute(
            select(HealthEvent.person_id, HealthEvent.kind, HealthEvent.occurred_at).where(
                HealthEvent.person_id.in_(chunk)
            )
        ):
            wanted.pop((person, kind, int(at.timestamp())), None)
    now = clock.now()
    session.add_all(
        HealthEvent(
            person_id=person,
            kind=kind,
            occurred_at=at,
            case_id=case_id,
            source="tracing",
            note=None,
            created_by=actor.username,
            created_at=now,
        )
        for (person, kind, _second), at in sorted(wanted.items())
    )
    session.flush()
    refresh_profiles(session=session, person_ids=[person for person, _k, _s in wanted])
    record_audit(
        session=session,
        actor=actor,
        action="health.tracing_events",
        target=case_id,
        detail={"added": len(wanted), "found": len(events)},
    )
    return len(wanted)


def withdraw_tracing_events(*, session: Session, actor: Actor, case_id: str) -> int:
    """Take back every event a tracing case created; how many. Audited once for the case."""
    gone = session.execute(
        select(HealthEvent.id, HealthEvent.person_id).where(
            HealthEvent.source == "tracing", HealthEvent.case_id == case_id
        )
    ).all()
    ids = [event for event, _person in gone]
    for chunk in in_chunks(ids):
        session.execute(delete(HealthEvent).where(HealthEvent.id.in_(chunk)))
    refresh_profiles(session=session, person_ids=[person for _event, person in gone])
    record_audit(
        session=session,
        actor=actor,
        action="health.tracing_events_withdrawn",
        target=case_id,
        detail={"withdrawn": len(ids)},
    )
    return len(ids)


# --- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthFile:
    """One person's records and what the rules make of them."""

    person: Person | None
    events: list[HealthEvent]
    nats: list[NatTest]
    doses: list[Vaccination]
    record: HealthRecord


def health_file(*, session: Session, person_key: str) -> HealthFile:
    """A person's records, newest first (an empty file for someone not registered)."""
    person = people.find_person(session=session, person_key=person_key)
    if person is None:
        return HealthFile(None, [], [], [], HealthRecord())
    events = list(
        session.scalars(
            select(HealthEvent)
            .where(HealthEvent.person_id == person.id)
            .order_by(HealthEvent.occurred_at.desc(), HealthEvent.id.desc())
        )
    )
    nats = list(
        session.scalars(
            select(NatTest)
            .where(NatTest.person_id == person.id)
            .order_by(NatTest.sampled_at.desc())
        )
    )
    doses = list(
        session.scalars(
            select(Vaccination).where(Vaccination.person_id == person.id).order_by(Vaccination.dose)
        )
    )
    record = HealthRecord(
        events=tuple(Event(EventKind(e.kind), e.occurred_at) for e in events),
        nats=tuple(Nat(n.sampled_at, NatResult(n.result)) for n in nats),
        vaccination=vaccination_state([Dose(d.dose, d.vaccinated_at, d.product) for d in doses]),
    )
    return HealthFile(person, events, nats, doses, record)


def person_status(
    *, session: Session, settings: Settings, person_key: str, at: datetime | None = None
) -> tuple[PersonStatus, HealthFile]:
    """A person's status at `at` (now by default) from the database, with their records."""
    found = health_file(session=session, person_key=person_key)
    return status_at(found.record, at or clock.now(), Rules.of(settings)), found


def history(*, settings: Settings, found: HealthFile) -> list[StatusPeriod]:
    """How the person's colour changed, newest first."""
    return list(reversed(timeline(found.record, Rules.of(settings), clock.now())))


def person_key_for(*, settings: Settings, doc_type: str, doc_number: str) -> str:
    """The pseudonym of a document (for a CDC analyst looking someone up)."""
    details = read_details(doc_type=doc_type, doc_number=doc_number)
    return person_key_of(settings, details.document)


# --- corrections -------------------------------------------------------------------------


class CorrectionState(StrEnum):
    open = "open"
    kept = "kept"
    cleared = "cleared"


CORRECTION_LABELS = {
    CorrectionState.open: N_("Waiting for the CDC"),
    CorrectionState.kept: N_("Checked: the colour stays"),
    CorrectionState.cleared: N_("Corrected: cleared"),
}


def file_correction(
    *,
    session: Session,
    settings: Settings,
    sealer: Sealer,
    person_key: str,
    details: PersonDetails | None,
    reason: str,
) -> Correction:
    """A citizen asks the CDC to look at their colour again (one open request at a time)."""
    person = people.find_person(session=session, person_key=person_key)
    if person is None and details is not None:
        person = people.register_person(
            session=session, settings=settings, sealer=sealer, details=details, source="web"
        )
    if person is None:
        raise NotFound(_("This person is not registered."), code="unknown_person")
    # Two requests at once take turns on the person's row (PostgreSQL; SQLite's writers
    # take turns anyway): the later one then finds the earlier one's request open.
    session.execute(select(Person.id).where(Person.id == person.id).with_for_update())
    open_one = session.scalar(
        select(Correction.id).where(
            Correction.person_id == person.id, Correction.state == CorrectionState.open.value
        )
    )
    if open_one is not None:
        raise Conflict(
            _("You already have a request waiting for the CDC; you will see its answer here."),
            code="correction_open",
        )
    status, _found = person_status(session=session, settings=settings, person_key=person_key)
    correction = Correction(
        person_id=person.id,
        reason=reason,
        colour=status.colour.value,
        state=CorrectionState.open.value,
        filed_at=clock.now(),
    )
    session.add(correction)
    session.flush()
    return correction


def own_corrections(*, session: Session, person_key: str) -> list[Correction]:
    person = people.find_person(session=session, person_key=person_key)
    if person is None:
        return []
    return list(
        session.scalars(
            select(Correction)
            .where(Correction.person_id == person.id)
            .order_by(Correction.filed_at.desc(), Correction.id.desc())
        )
    )


@dataclass(frozen=True)
class CorrectionItem:
    correction: Correction
    person_key: str
    name_masked: str
    doc_masked: str


def list_corrections(
    *, session: Session, state: CorrectionState | None = CorrectionState.open, limit: int = 200
) -> list[CorrectionItem]:
    """The CDC's queue: oldest open requests first (or every request of a state)."""
    query = select(Correction, Person.person_key, Person.name_masked, Person.doc_masked).join(
        Person, Person.id == Correction.person_id
    )
    if state is not None:
        query = query.where(Correction.state == state.value)
    order = Correction.filed_at if state is CorrectionState.open else Correction.filed_at.desc()
    rows = session.execute(query.order_by(order, Correction.id).limit(limit))
    return [CorrectionItem(c, key, name, doc) for c, key, name, doc in rows]


def resolve_correction(
    *,
    session: Session,
    actor: Actor,
    correction_id: int,
    outcome: CorrectionState,
    note: str,
) -> Correction:
    """Answer a request: keep the colour, or clear the person from now on. Audited."""
    if outcome is CorrectionState.open:
        raise InvalidInput(_("Choose keep or clear."), code="bad_outcome")
    correction = session.get(Correction, correction_id)
    if correction is None:
        raise NotFound(_("There is no such correction request."), code="unknown_correction")
    if correction.state != CorrectionState.open.value:
        raise Conflict(_("This request has already been answered."), code="correction_resolved")
    now = clock.now()
    person = session.get_one(Person, correction.person_id)
    if outcome is CorrectionState.cleared:
        _add_event(
            session=session,
            actor=actor,
            person=person,
            kind=EventKind.cleared,
            occurred_at=now,
            note=note,
            source="correction",
        )
    correction.state = outcome.value
    correction.resolved_by = actor.username
    correction.resolved_at = now
    correction.resolution = note
    record_audit(
        session=session,
        actor=actor,
        action=f"health.correction.{outcome.value}",
        target=person.person_key,
        detail={"correction": correction.id},
    )
    return correction


def has_records() -> ColumnElement[bool]:
    """A condition on Person: they have health records or correction requests, which the
    CDC keeps under its own rules (check-in retention does not remove such people)."""
    return exists().where(HealthProfile.person_id == Person.id) | exists().where(
        Correction.person_id == Person.id
    )


def event_label(kind: str) -> str:
    return _(EVENT_LABELS[EventKind(kind)])
