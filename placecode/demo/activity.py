"""Write the demo district's days: residents registered (sealed) as they first scan, their
check-ins with the hourly counts the writer keeps, and the NAT results behind each entry
decision. Bulk writes (COPY on PostgreSQL, executemany on SQLite), the check-in indexes
rebuilt once at the end.

NAT testing in March 2022: each resident is sampled every two or three days, in the
morning, always negative in this district's history (the outbreak comes on top of it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from itertools import repeat
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from placecode import changes
from placecode.checkins.store import COLUMNS, DAY, HOUR, ensure_partitions
from placecode.clock import clock
from placecode.config import Settings
from placecode.db import DriverSql
from placecode.demo.district import DistrictPlan
from placecode.demo.population import Population, documents_of, name_of, phone_of
from placecode.demo.scans import CHANNELS, DayOfScans, plan_day, popularity
from placecode.health.book import HEALTH_COUNTER
from placecode.health.status import VaccinationState, primary_doses
from placecode.people.documents import mask_document, mask_name, mask_phone
from placecode.people.sealing import Identity, Sealer
from placecode.people.service import PersonKeys

NAT_HOURS = {"green_nat48": 48, "green_nat72": 72, "green_nat72_or_sampled24": 72}
CHECKIN_INDEXES = {
    "ix_checkins_venue_id_scanned_at": "venue_id, scanned_at",
    "ix_checkins_person_id_scanned_at": "person_id, scanned_at",
}


@dataclass(frozen=True)
class Written:
    people: int
    check_ins: int
    nat_results: int
    per_day: dict[date, int]


class NatSchedule:
    """Every resident's sampling rhythm: every `interval` days (2 or 3), from a phase, at a
    minute of the morning."""

    def __init__(self, size: int, seed: int) -> None:
        rng = np.random.default_rng(seed + 2)
        self.interval = rng.integers(2, 4, size=size)
        self.phase = rng.integers(0, 3, size=size)
        self.minute = rng.integers(7 * 60, 11 * 60, size=size)

    def last_sample(self, people: np.ndarray, ordinal: int, second: np.ndarray) -> np.ndarray:
        """Days before `ordinal` of each person's latest sample at or before the second."""
        interval = self.interval[people]
        back = (ordinal + self.phase[people]) % interval
        today_not_yet = (back == 0) & (self.minute[people] * 60 > second)
        days: np.ndarray = np.where(today_not_yet, interval, back)
        return days

    def samples(self, person: int, first: int, last: int) -> list[int]:
        """Ordinals of the days this person was sampled on, from `first` to `last`."""
        interval, phase = int(self.interval[person]), int(self.phase[person])
        return [day for day in range(first, last + 1) if (day + phase) % interval == 0]


def write_days(
    *,
    session: Session,
    settings: Settings,
    sealer: Sealer,
    plan: DistrictPlan,
    population: Population,
    days: list[date],
    per_day: int,
    seed: int,
    progress: Callable[[str, int, int], None] | None = None,
) -> Written:
    """The district's history over `days`, oldest first."""
    zone = settings.zone
    venues = plan.venues
    venue_ids = np.array([v.id for v in venues], dtype=object)
    zhennan = venues.index(plan.zhennan)
    policies = _venue_policies(session, venues)
    outing = popularity(venues)
    schedule = NatSchedule(len(population), seed)
    person_id = np.zeros(len(population), dtype=np.int64)
    person_keys = np.empty(len(population), dtype=object)
    first_seen = np.zeros(len(population), dtype=np.int64)
    next_person = (
        session.execute(text("SELECT COALESCE(MAX(id), 0) FROM persons")).scalar() or 0
    ) + 1
    next_checkin = 1
    per_day_counts: dict[date, int] = {}
    _drop_checkin_indexes(session)
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA cache_size = -262144"))  # 256 MiB while loading
    for number, day in enumerate(days):
        scans = plan_day(
            day=day,
            population=population,
            outing=outing,
            zhennan_index=zhennan,
            per_day=per_day,
            seed=seed,
        )
        midnight = int(datetime.combine(day, time.min, tzinfo=zone).timestamp())
        at = midnight + scans.second
        new, first_scan = np.unique(scans.person, return_index=True)  # scans run in time order
        unseen = person_id[new] == 0
        new, first_scan = new[unseen], first_scan[unseen]
        if len(new):
            first_at = np.full(len(population), np.iinfo(np.int64).max)
            np.minimum.at(first_at, scans.person, at)
            person_id[new] = np.arange(next_person, next_person + len(new))
            first_seen[new] = first_at[new]
            next_person += len(new)
            source = np.array(CHANNELS, dtype=object)[scans.channel[first_scan]]
            source[scans.companion_of[first_scan] >= 0] = "companion"
            person_keys[new] = _write_people(
                session, settings, sealer, population, new, source, person_id, first_seen
            )
        ensure_partitions(session, [midnight - midnight % DAY, midnight - midnight % DAY + DAY])
        allowed = _entry_allowed(scans, policies, schedule, day.toordinal())
        ids = np.arange(next_checkin, next_checkin + len(scans))
        next_checkin += len(scans)
        DriverSql(session).insert_rows(
            "checkins",
            COLUMNS,
            list(
                zip(
                    ids.tolist(),
                    at.tolist(),
                    venue_ids[scans.venue].tolist(),
                    person_id[scans.person].tolist(),
                    [CHANNELS[c] for c in scans.channel.tolist()],
                    ["green"] * len(scans),
                    allowed.tolist(),
                    [None] * len(scans),
                    _companion_ids(scans.companion_of, person_id),
                    [
                        "demo" if CHANNELS[c] in ("sentinel", "paper") else None
                        for c in scans.channel.tolist()
                    ],
                    strict=True,
                )
            ),
        )
        _write_hourly_counts(session, venue_ids, scans.venue, at)
        per_day_counts[day] = len(scans)
        if progress is not None:
            progress("scans", number + 1, len(days))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SELECT setval('checkins_id_seq', {max(next_checkin - 1, 1)})"))
    _create_checkin_indexes(session)
    _write_companions(session, population, person_id, first_seen)
    nat_count = _write_nat_results(session, person_id, person_keys, schedule, days, zone, seed)
    return Written(
        people=int((person_id > 0).sum()),
        check_ins=next_checkin - 1,
        nat_results=nat_count,
        per_day=per_day_counts,
    )


def _venue_policies(session: Session, venues: list[Any]) -> np.ndarray:
    """Hours within which a negative NAT must be sampled at each venue (0: green only;
    negative: the 72-or-sampled-24 policy)."""
    rows = session.execute(text("SELECT code, entry_policy FROM venue_categories"))
    by_category = {code: policy for code, policy in rows}
    hours = []
    for venue in venues:
        policy = by_category[venue.category_code]
        needed = NAT_HOURS.get(policy, 0)
        hours.append(-needed if policy == "green_nat72_or_sampled24" else needed)
    return np.array(hours)


def _entry_allowed(
    scans: DayOfScans, policies: np.ndarray, schedule: NatSchedule, ordinal: int
) -> np.ndarray:
    days_back = schedule.last_sample(scans.person, ordinal, scans.second)
    hours = days_back * 24 + (scans.second - schedule.minute[scans.person] * 60) / 3600
    needed = np.abs(policies[scans.venue])
    allowed: np.ndarray = (needed == 0) | (hours <= needed)
    return allowed


def _write_people(
    session: Session,
    settings: Settings,
    sealer: Sealer,
    population: Population,
    new: np.ndarray,
    source: np.ndarray,
    person_id: np.ndarray,
    first_seen: np.ndarray,
) -> list[str]:
    """Register these residents (sealed in one batch); their person keys."""
    keyer = PersonKeys(settings)
    sqlite = session.get_bind().dialect.name == "sqlite"
    keys: list[str] = []
    identities = []
    names, documents, phones = [], [], []
    foreign = population.foreign[new]
    for index, alien, (doc_type, number) in zip(
        new.tolist(), foreign.tolist(), documents_of(new, foreign), strict=True
    ):
        key = keyer.of(doc_type, number)
        name = name_of(index, alien)
        phone = "+86" + phone_of(index)
        keys.append(key)
        identities.append((Identity(name=name, doc_number=number, phone=phone), key.encode()))
        names.append(mask_name(name))
        documents.append(mask_document(number))
        phones.append(mask_phone(phone))
    DriverSql(session).insert_rows(
        "persons",
        PERSON_COLUMNS,
        list(
            zip(
                person_id[new].tolist(),
                keys,
                np.where(foreign, "passport", "id_card").tolist(),
                sealer.seal_batch(identities),
                names,
                documents,
                phones,
                source.tolist(),
                _timestamps(first_seen[new], sqlite),
                strict=True,
            )
        ),
    )
    return keys


PERSON_COLUMNS = (
    "id",
    "person_key",
    "doc_type",
    "sealed",
    "name_masked",
    "doc_masked",
    "phone_masked",
    "source",
    "created_at",
)


def _companion_ids(companion_of: np.ndarray, person_id: np.ndarray) -> list[int | None]:
    """The relative's person id for each companion scan, None for the others."""
    ids = person_id[companion_of].astype(object)
    ids[companion_of < 0] = None
    return list(ids.tolist())


def _write_companions(
    session: Session, population: Population, person_id: np.ndarray, first_seen: np.ndarray
) -> None:
    """Each accompanied elder on their relative's list, once both are registered."""
    elders = np.flatnonzero((population.guardian >= 0) & (person_id > 0))
    elders = elders[person_id[population.guardian[elders]] > 0]
    relatives = population.guardian[elders]
    since = np.maximum(first_seen[elders], first_seen[relatives])
    sqlite = session.get_bind().dialect.name == "sqlite"
    DriverSql(session).insert_rows(
        "companions",
        ("guardian_id", "dependent_id", "relationship", "with_me", "created_at"),
        list(
            zip(
                person_id[relatives].tolist(),
                person_id[elders].tolist(),
                repeat("parent"),
                repeat(True),
                _timestamps(since, sqlite),
            )
        ),
    )


def _write_hourly_counts(
    session: Session, venue_ids: np.ndarray, venue: np.ndarray, at: np.ndarray
) -> None:
    hour = at - at % HOUR
    first = int(hour.min())
    slots = (hour - first) // HOUR + 1
    keys, counts = np.unique(venue * int(slots.max() + 1) + slots, return_counts=True)
    venues, hours = np.divmod(keys, int(slots.max() + 1))
    DriverSql(session).insert_rows(
        "venue_hourly_counts",
        ("venue_id", "hour", "count"),
        list(
            zip(
                venue_ids[venues].tolist(),
                (first + (hours - 1) * HOUR).tolist(),
                counts.tolist(),
                strict=True,
            )
        ),
    )


def _drop_checkin_indexes(session: Session) -> None:
    for name in CHECKIN_INDEXES:
        session.execute(text(f"DROP INDEX IF EXISTS {name}"))


def _create_checkin_indexes(session: Session) -> None:
    for name, columns in CHECKIN_INDEXES.items():
        session.execute(text(f"CREATE INDEX {name} ON checkins ({columns})"))


def _write_nat_results(
    session: Session,
    person_id: np.ndarray,
    person_keys: np.ndarray,
    schedule: NatSchedule,
    days: list[date],
    zone: Any,
    seed: int,
) -> int:
    """Every sample of every registered resident over the days (and the three before), and
    each one's health profile (latest NAT, vaccination state) for the status book.

    Vectorised, and written in person order so that the (person, sampled_at) index grows
    at its end rather than all over.
    """
    first, last = days[0].toordinal() - 3, days[-1].toordinal()
    now = clock.now()
    registered = np.flatnonzero(person_id > 0)
    registered = registered[np.argsort(person_id[registered])]
    changes.bump(session=session, name=HEALTH_COUNTER)
    revision = changes.version(session=session, name=HEALTH_COUNTER)
    sqlite = session.get_bind().dialect.name == "sqlite"
    midnights = np.array(
        [
            int(datetime.combine(date.fromordinal(day), time.min, tzinfo=zone).timestamp())
            for day in range(first, last + 1)
        ]
    )
    ordinals = np.arange(first, last + 1)
    created = _timestamps(np.array([int(now.timestamp())]), sqlite)[0]
    vaccination_plan = VaccinationPlan(len(person_id), seed)
    written = 0
    for start in range(0, len(registered), 100_000):
        chunk = registered[start : start + 100_000]
        sampled_on = (ordinals[None, :] + schedule.phase[chunk, None]) % schedule.interval[
            chunk, None
        ] == 0
        sampled_at = midnights[None, :] + schedule.minute[chunk, None] * 60
        sampled_on &= sampled_at <= now.timestamp()
        rows, columns = np.nonzero(sampled_on)  # row-major: person order, then time
        at = sampled_at[rows, columns]
        ids = person_id[chunk][rows]
        DriverSql(session).insert_rows(
            "nat_results",
            ("person_id", "sampled_at", "result", "institution", "created_at"),
            list(
                zip(
                    ids.tolist(),
                    _timestamps(at, sqlite),
                    repeat("negative"),
                    repeat("社区核酸采样点"),
                    repeat(created),
                )
            ),
        )
        latest = np.where(sampled_on, sampled_at, -1).max(axis=1)
        states = _write_vaccinations(session, chunk, person_id, vaccination_plan, sqlite)
        DriverSql(session).insert_rows(
            "health_profiles",
            (
                "person_id",
                "person_key",
                "nat_sampled_at",
                "nat_result",
                "vaccination",
                "watched",
                "revision",
            ),
            [
                (
                    pid,
                    key,
                    nat if nat >= 0 else None,
                    "negative" if nat >= 0 else None,
                    state,
                    False,
                    revision,
                )
                for pid, key, nat, state in zip(
                    person_id[chunk].tolist(),
                    person_keys[chunk].tolist(),
                    latest.tolist(),
                    states,
                    strict=True,
                )
            ],
        )
        written += len(at)
    return written


# Shanghai, spring 2022: most adults boosted or fully vaccinated, few not at all.
VACCINATION_SHARES = {
    VaccinationState.booster_complete: 0.45,
    VaccinationState.primary_complete: 0.38,
    VaccinationState.primary_incomplete: 0.05,
    VaccinationState.not_suitable: 0.02,
    VaccinationState.no_record: 0.10,
}
PRODUCTS = (
    ("北京科兴 CoronaVac", 0.6),
    ("国药北京生物 BBIBP", 0.35),
    ("智飞 ZF2001", 0.03),
    ("康希诺 Convidecia", 0.02),
)


class VaccinationPlan:
    """Each resident's vaccination state and product, drawn once."""

    def __init__(self, size: int, seed: int) -> None:
        rng = np.random.default_rng(seed + 3)
        states = list(VACCINATION_SHARES)
        self.state = rng.choice(len(states), size=size, p=list(VACCINATION_SHARES.values()))
        self.states = states
        self.product = rng.choice(len(PRODUCTS), size=size, p=[share for _n, share in PRODUCTS])
        self.first = rng.integers(0, 120, size=size)  # days after 2021-03-01


def _write_vaccinations(
    session: Session,
    chunk: np.ndarray,
    person_id: np.ndarray,
    plan: VaccinationPlan,
    sqlite: bool,
) -> list[str]:
    """The doses behind each resident's state (dose 0: a medical exemption); the states."""
    states = plan.state[chunk]
    product = plan.product[chunk]
    primary = np.array([primary_doses(name) for name, _share in PRODUCTS])[product]
    code = {state: number for number, state in enumerate(plan.states)}
    incomplete = states == code[VaccinationState.primary_incomplete]
    # A one-dose course cannot be half done: those people completed it.
    states = np.where(incomplete & (primary == 1), code[VaccinationState.primary_complete], states)
    doses = np.select(
        [
            states == code[VaccinationState.booster_complete],
            states == code[VaccinationState.primary_complete],
            states == code[VaccinationState.primary_incomplete],
            states == code[VaccinationState.not_suitable],
        ],
        [primary + 1, primary, primary - 1, 1],
    )
    exempt = states == code[VaccinationState.not_suitable]
    who = np.repeat(np.arange(len(chunk)), doses)
    starts = np.cumsum(doses) - doses
    number = np.arange(len(who)) - starts[who] + 1  # 1, 2, … within each person
    number[exempt[who]] = 0
    days = plan.first[chunk][who] + 30 * np.maximum(number - 1, 0) + 120 * (number > primary[who])
    when = (np.datetime64("2021-03-01") + days).astype("datetime64[D]")
    created = _timestamps(np.array([int(clock.now().timestamp())]), sqlite)[0]
    names = np.array([name for name, _share in PRODUCTS] + [""], dtype=object)
    DriverSql(session).insert_rows(
        "vaccinations",
        ("person_id", "dose", "vaccinated_at", "product", "created_at"),
        list(
            zip(
                person_id[chunk][who].tolist(),
                number.tolist(),
                np.datetime_as_string(when).tolist() if sqlite else when.tolist(),
                names[np.where(exempt[who], len(PRODUCTS), product[who])].tolist(),
                repeat(created),
            )
        ),
    )
    return [plan.states[state].value for state in states.tolist()]


def _timestamps(seconds: np.ndarray, sqlite: bool) -> list[Any]:
    """Epoch seconds as the UTCDateTime columns store them (text on SQLite)."""
    if sqlite:
        text_form = np.datetime_as_string(seconds.astype("datetime64[s]").astype("datetime64[us]"))
        return [value.replace("T", " ") for value in text_form.tolist()]
    return [datetime.fromtimestamp(value, UTC) for value in seconds.tolist()]
