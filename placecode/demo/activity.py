"""Write the demo district's days: residents registered (sealed) as they first scan, their
check-ins with the hourly counts the writer keeps, and the NAT results behind each entry
decision. Bulk writes column by column (COPY on PostgreSQL; on SQLite the columns are
unpacked by SQLite itself), the check-in indexes rebuilt once at the end.

NAT testing in March 2022: each resident is sampled every two or three days, in the
morning, always negative in this district's history (the outbreak comes on top of it).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from placecode import changes
from placecode.checkins.store import DAY, HOUR, ensure_partitions
from placecode.clock import clock
from placecode.config import Settings
from placecode.db import Coded, Days, DriverSql, Instants
from placecode.demo.district import DistrictPlan
from placecode.demo.population import Population, documents_of, name_of, phone_of
from placecode.demo.scans import CHANNELS, DayOfScans, plan_day, popularity
from placecode.health.book import HEALTH_COUNTER
from placecode.health.status import VaccinationState, primary_doses
from placecode.people.documents import mask_document, mask_name, mask_phone
from placecode.people.sealing import Identity, Sealer
from placecode.people.service import PersonKeys

NAT_HOURS = {"green_nat48": 48, "green_nat72": 72, "green_nat72_or_sampled24": 72}
# Built once after the load rather than row by row during it (as the migrations make them);
# the check-ins' (venue, time) index is kept, since they are written in its order.
LOAD_INDEXES = {
    "ix_checkins_person_id_venue_id_scanned_at": ("checkins", "person_id, venue_id, scanned_at"),
    "ix_venue_hourly_counts_hour_venue_id_count": ("venue_hourly_counts", "hour, venue_id, count"),
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


Progress = Callable[[str, int, int], None]  # stage, done, total


@dataclass(frozen=True)
class History:
    """The district's days, planned: who scanned where and when, and who they are."""

    days: list[date]
    midnights: list[int]  # epoch seconds of each day's local midnight
    scans: list[DayOfScans]
    residents: Residents
    schedule: NatSchedule


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
    progress: Progress | None = None,
) -> Written:
    """The district's history over `days`, oldest first, in one session."""
    history = plan_history(
        first_person_id=next_person_id(session),
        settings=settings,
        plan=plan,
        population=population,
        days=days,
        per_day=per_day,
        seed=seed,
        progress=progress,
    )
    nat_results = write_residents(
        session=session,
        settings=settings,
        sealer=sealer,
        population=population,
        history=history,
        seed=seed,
        progress=progress,
    )
    per_day_counts = write_checkins(session=session, plan=plan, history=history, progress=progress)
    write_hourly_counts(session=session, plan=plan, history=history)
    return Written(
        people=int((history.residents.person_id > 0).sum()),
        check_ins=sum(per_day_counts.values()),
        nat_results=nat_results,
        per_day=per_day_counts,
    )


def plan_history(
    *,
    first_person_id: int,
    settings: Settings,
    plan: DistrictPlan,
    population: Population,
    days: list[date],
    per_day: int,
    seed: int,
    progress: Progress | None = None,
) -> History:
    """Every day's scans, and the residents in the order they first scan (their ids from
    `first_person_id` on)."""
    outing = popularity(plan.venues)
    zhennan = plan.venues.index(plan.zhennan)

    def plan_one(day: date) -> DayOfScans:
        return plan_day(
            day=day,
            population=population,
            outing=outing,
            zhennan_index=zhennan,
            per_day=per_day,
            seed=seed,
        )

    # Two days at a time: numpy draws and sorts without the interpreter lock.
    scans_of: list[DayOfScans] = []
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="planning") as pool:
        for scans in pool.map(plan_one, days):
            scans_of.append(scans)
            _report(progress, "planning", len(scans_of), len(days))
    zone = settings.zone
    midnights = [int(datetime.combine(day, time.min, tzinfo=zone).timestamp()) for day in days]
    return History(
        days=days,
        midnights=midnights,
        scans=scans_of,
        residents=_residents(scans_of, midnights, len(population), first_person_id),
        schedule=NatSchedule(len(population), seed),
    )


def next_person_id(session: Session) -> int:
    return int(session.execute(text("SELECT COALESCE(MAX(id), 0) FROM persons")).scalar() or 0) + 1


def write_residents(
    *,
    session: Session,
    settings: Settings,
    sealer: Sealer,
    population: Population,
    history: History,
    seed: int,
    progress: Progress | None = None,
) -> int:
    """The residents who scanned (sealed), their companions, NAT results, vaccinations and
    health profiles; how many NAT results."""
    person_keys = _write_people(
        session,
        settings,
        sealer,
        population,
        history.residents,
        progress=lambda done, total: _report(progress, "residents", done, total),
    )
    _write_companions(session, population, history.residents)
    return _write_nat_results(
        session,
        history.residents.person_id,
        person_keys,
        history.schedule,
        history.days,
        settings.zone,
        seed,
        progress=lambda done, total: _report(progress, "NAT results", done, total),
    )


def write_checkins(
    *, session: Session, plan: DistrictPlan, history: History, progress: Progress | None = None
) -> dict[date, int]:
    """Every day's check-ins with their entry decisions, and their indexes; the check-ins
    of each day.

    The check-ins are written in the order of the (venue, time) index, which is kept while
    they are written (it grows at its end) instead of being built afterwards; their ids
    follow that order.
    """
    venue_ids = np.array([v.id.encode() for v in plan.venues])
    rank = np.argsort(np.argsort(venue_ids, kind="stable"))  # each venue's place by id
    policies = _venue_policies(session, plan.venues)
    person_id = history.residents.person_id
    per_day = {day: len(scans) for day, scans in zip(history.days, history.scans, strict=True)}
    # A local day spans two UTC days, and PostgreSQL's partitions are UTC days.
    ensure_partitions(session, [m - m % DAY + k * DAY for m in history.midnights for k in (0, 1)])
    scans = history.scans
    venue = np.concatenate([day.venue for day in scans])
    at = np.concatenate([m + day.second for m, day in zip(history.midnights, scans, strict=True)])
    order = np.lexsort((at, rank[venue]))
    person = np.concatenate([day.person for day in scans])[order]
    channel = np.concatenate([day.channel for day in scans])[order]
    companion_of = np.concatenate([day.companion_of for day in scans])[order]
    allowed = np.concatenate(
        [
            _entry_allowed(day, policies, history.schedule, date_.toordinal())
            for day, date_ in zip(scans, history.days, strict=True)
        ]
    )[order]
    venue, at = venue[order], at[order]
    _drop_load_indexes(session, "checkins")
    total = len(order)
    for start in range(0, total, CHECKINS_BATCH):
        part = slice(start, min(total, start + CHECKINS_BATCH))
        DriverSql(session).insert_columns(
            "checkins",
            {
                "id": np.arange(part.start + 1, part.stop + 1),
                "scanned_at": at[part],
                "venue_id": venue_ids[venue[part]],
                "person_id": person_id[person[part]],
                "channel": Coded(channel[part], CHANNELS),
                "colour": "green",
                "entry_allowed": allowed[part],
                "checkout_at": None,
                "companion_of": np.ma.MaskedArray(
                    person_id[companion_of[part]], mask=companion_of[part] < 0
                ),
                "recorded_by": Coded(np.isin(channel[part], BY_HAND).astype(np.int8), (None, DEMO)),
            },
            part.stop - part.start,
        )
        _report(progress, "check-ins", part.stop, total)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SELECT setval('checkins_id_seq', {max(total, 1)})"))
    _create_load_indexes(session, "checkins")
    return per_day


def write_hourly_counts(*, session: Session, plan: DistrictPlan, history: History) -> None:
    """The scans of every venue-hour, as the writer keeps them, and their index."""
    _drop_load_indexes(session, "venue_hourly_counts")
    venue_ids = np.array([v.id.encode() for v in plan.venues])
    _write_hourly_counts(session, venue_ids, history.scans, history.midnights)
    _create_load_indexes(session, "venue_hourly_counts")


CHECKINS_BATCH = 500_000  # rows per statement (and per step of the progress bar)


def _report(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


BY_HAND = [CHANNELS.index("sentinel"), CHANNELS.index("paper")]  # recorded by the demo
DEMO = "demo"


@dataclass(frozen=True)
class Residents:
    """Who scanned, registered in the order of their first scan."""

    new: np.ndarray  # resident indexes, in that order
    person_id: np.ndarray  # by resident index (0: never scanned)
    first_seen: np.ndarray  # epoch seconds, by resident index
    source: np.ndarray  # the channel of each new resident's first scan ("companion" too)


def _residents(
    scans_of: list[DayOfScans], midnights: list[int], size: int, next_person: int
) -> Residents:
    """Everyone who scans is registered as they first scan (the days in time order)."""
    person = np.concatenate([scans.person for scans in scans_of])
    at = np.concatenate(
        [midnight + scans.second for scans, midnight in zip(scans_of, midnights, strict=True)]
    )
    channel = np.concatenate([scans.channel for scans in scans_of])
    companion_of = np.concatenate([scans.companion_of for scans in scans_of])
    # Each resident's first scan (a tenth of the time np.unique's sort takes).
    first_of = np.full(size, len(person), dtype=np.int64)
    np.minimum.at(first_of, person, np.arange(len(person)))
    new = np.flatnonzero(first_of < len(person))
    new = new[np.argsort(first_of[new], kind="stable")]
    first = first_of[new]
    person_id = np.zeros(size, dtype=np.int64)
    person_id[new] = np.arange(next_person, next_person + len(new))
    first_seen = np.zeros(size, dtype=np.int64)
    first_seen[new] = at[first]
    source = np.array(CHANNELS, dtype=object)[channel[first]]
    source[companion_of[first] >= 0] = "companion"
    return Residents(new=new, person_id=person_id, first_seen=first_seen, source=source)


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


PEOPLE_BATCH = 100_000  # residents sealed with one key agreement
DOC_TYPES = np.array(["id_card", "passport"], dtype=object)  # by population.foreign


def _write_people(
    session: Session,
    settings: Settings,
    sealer: Sealer,
    population: Population,
    residents: Residents,
    progress: Callable[[int, int], None],
) -> np.ndarray:
    """Register the residents who scanned (sealed a batch at a time); their person keys, by
    resident index."""
    keyer = PersonKeys(settings)
    keys = np.empty(len(population), dtype=object)
    new = residents.new
    masked_names: dict[str, str] = {}  # names repeat: each is masked once
    for start in range(0, len(new), PEOPLE_BATCH):
        batch = new[start : start + PEOPLE_BATCH]
        foreign = population.foreign[batch]
        numbers = documents_of(batch, foreign)
        batch_keys = keyer.of_many(DOC_TYPES[foreign.astype(np.int8)].tolist(), numbers)
        names = [
            name_of(index, alien)
            for index, alien in zip(batch.tolist(), foreign.tolist(), strict=True)
        ]
        phones = ["+86" + phone_of(index) for index in batch.tolist()]
        plaintexts = Identity.many_to_bytes(names, numbers, phones)
        masked = [
            masked_names.get(name) or masked_names.setdefault(name, mask_name(name))
            for name in names
        ]
        documents = [mask_document(number) for number in numbers]
        masked_phones = [mask_phone(phone) for phone in phones]
        keys[batch] = batch_keys
        DriverSql(session).insert_columns(
            "persons",
            {
                "id": residents.person_id[batch],
                "person_key": batch_keys,
                "doc_type": Coded(foreign.astype(np.int8), tuple(DOC_TYPES)),
                "sealed": sealer.seal_plaintexts(
                    zip(plaintexts, (key.encode() for key in batch_keys), strict=True)
                ),
                "name_masked": masked,
                "doc_masked": documents,
                "phone_masked": masked_phones,
                "source": residents.source[start : start + PEOPLE_BATCH].tolist(),
                "created_at": Instants(residents.first_seen[batch]),
            },
            len(batch),
        )
        progress(min(start + PEOPLE_BATCH, len(new)), len(new))
    return keys


def _write_companions(session: Session, population: Population, residents: Residents) -> None:
    """Each accompanied elder on their relative's list, once both are registered."""
    person_id, first_seen = residents.person_id, residents.first_seen
    elders = np.flatnonzero((population.guardian >= 0) & (person_id > 0))
    elders = elders[person_id[population.guardian[elders]] > 0]
    relatives = population.guardian[elders]
    DriverSql(session).insert_columns(
        "companions",
        {
            "guardian_id": person_id[relatives],
            "dependent_id": person_id[elders],
            "relationship": "parent",
            "with_me": True,
            "created_at": Instants(np.maximum(first_seen[elders], first_seen[relatives])),
        },
        len(elders),
    )


def _write_hourly_counts(
    session: Session, venue_ids: np.ndarray, scans_of: list[DayOfScans], midnights: list[int]
) -> None:
    """The scans of every venue-hour, written once in the table's key order (venue, hour)."""
    venue = np.concatenate([scans.venue for scans in scans_of])
    hour = np.concatenate([m + scans.second for scans, m in zip(scans_of, midnights, strict=True)])
    hour -= hour % HOUR
    first = int(hour.min())
    slots = int(hour.max() - first) // HOUR + 1
    rank = np.argsort(np.argsort(venue_ids, kind="stable"))  # each venue's place by id
    keys, counts = np.unique(rank[venue] * slots + (hour - first) // HOUR, return_counts=True)
    ranked, slot = np.divmod(keys, slots)
    DriverSql(session).insert_columns(
        "venue_hourly_counts",
        {
            "venue_id": np.sort(venue_ids)[ranked],
            "hour": first + slot * HOUR,
            "count": counts,
        },
        len(keys),
    )


def _drop_load_indexes(session: Session, table: str) -> None:
    for name, (of, _columns) in LOAD_INDEXES.items():
        if of == table:
            session.execute(text(f"DROP INDEX IF EXISTS {name}"))


def _create_load_indexes(session: Session, table: str) -> None:
    for name, (of, columns) in LOAD_INDEXES.items():
        if of == table:
            session.execute(text(f"CREATE INDEX {name} ON {of} ({columns})"))


NAT_BATCH = 100_000  # residents whose samples are written in one go


def _write_nat_results(
    session: Session,
    person_id: np.ndarray,
    person_keys: np.ndarray,
    schedule: NatSchedule,
    days: list[date],
    zone: Any,
    seed: int,
    progress: Callable[[int, int], None],
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
    midnights = np.array(
        [
            int(datetime.combine(date.fromordinal(day), time.min, tzinfo=zone).timestamp())
            for day in range(first, last + 1)
        ]
    )
    ordinals = np.arange(first, last + 1)
    vaccination_plan = VaccinationPlan(len(person_id), seed)
    sql = DriverSql(session)
    written = 0
    for start in range(0, len(registered), NAT_BATCH):
        chunk = registered[start : start + NAT_BATCH]
        sampled_on = (ordinals[None, :] + schedule.phase[chunk, None]) % schedule.interval[
            chunk, None
        ] == 0
        sampled_at = midnights[None, :] + schedule.minute[chunk, None] * 60
        sampled_on &= sampled_at <= now.timestamp()
        rows, columns = np.nonzero(sampled_on)  # row-major: person order, then time
        sql.insert_columns(
            "nat_results",
            {
                "person_id": person_id[chunk][rows],
                "sampled_at": Instants(sampled_at[rows, columns]),
                "result": "negative",
                "institution": "社区核酸采样点",
                "created_at": now,
            },
            len(rows),
        )
        latest = np.where(sampled_on, sampled_at, -1).max(axis=1)
        states = _write_vaccinations(sql, chunk, person_id, vaccination_plan, now)
        sql.insert_columns(
            "health_profiles",
            {
                "person_id": person_id[chunk],
                "person_key": person_keys[chunk].tolist(),
                "nat_sampled_at": np.ma.MaskedArray(latest, mask=latest < 0),
                "nat_result": Coded((latest >= 0).astype(np.int8), (None, "negative")),
                "vaccination": Coded(states, [state.value for state in vaccination_plan.states]),
                "watched": False,
                "revision": revision,
            },
            len(chunk),
        )
        written += len(rows)
        progress(min(start + NAT_BATCH, len(registered)), len(registered))
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
    sql: DriverSql,
    chunk: np.ndarray,
    person_id: np.ndarray,
    plan: VaccinationPlan,
    now: datetime,
) -> np.ndarray:
    """The doses behind each resident's state (dose 0: a medical exemption); the states, as
    indexes into `plan.states`."""
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
    names = [name for name, _share in PRODUCTS] + [""]
    sql.insert_columns(
        "vaccinations",
        {
            "person_id": person_id[chunk][who],
            "dose": number,
            "vaccinated_at": Days(np.datetime64("2021-03-01") + days),
            "product": Coded(np.where(exempt[who], len(PRODUCTS), product[who]), names),
            "created_at": now,
        },
        len(who),
    )
    states_out: np.ndarray = states
    return states_out
