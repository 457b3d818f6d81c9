"""The scan path's view of everyone's health, in memory, kept fresh by a change counter.

Almost everyone is green, so a worker holds little: for each person with a health record,
the latest NAT and the vaccination state, in sorted numpy arrays (41 bytes a person, so
1.24 million people fit in some 50 MB); and for the few whose colour may not be green
("watched") their events and NAT results, from which the rules work out the colour at the
moment asked. Any health change bumps the `health` counter in its transaction and rewrites
the person's profile with a new revision; a worker that sees the counter move loads only
the profiles rewritten since it last looked, into an overlay that is folded into the
arrays once it grows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from placecode import changes
from placecode.config import Settings
from placecode.health.models import HealthEvent, HealthProfile, NatTest
from placecode.health.status import (
    Colour,
    Event,
    EventKind,
    HealthRecord,
    Nat,
    NatResult,
    PersonStatus,
    Rules,
    VaccinationState,
    status_at,
)

HEALTH_COUNTER = "health"
OVERLAY_MAX = 50_000
CHUNK = 50_000
NAT_CODES = list(NatResult)
VACCINATION_CODES = list(VaccinationState)
WATCHED = 64

# A profile in memory: the latest NAT's sampling time (epoch seconds, -1 for none) and one
# small number packing the NAT result and the vaccination state (8 * result + state, as
# indexes into the lists above). The database computes it, so that a cold start of a
# million rows builds no Python object per person beyond the row itself.
Entry = tuple[int, int]
Arrays = tuple[np.ndarray[Any, Any], ...]


def _case(column: str, values: list[Any]) -> str:
    whens = " ".join(f"WHEN '{value.value}' THEN {code}" for code, value in enumerate(values))
    return f"CASE {column} {whens} ELSE 0 END"


# No outside input in this SQL: the CASE lists come from the enums.
PROFILES = (
    "SELECT person_key, COALESCE(nat_sampled_at, -1), "  # noqa: S608
    f"(CASE WHEN watched THEN {WATCHED} ELSE 0 END) + 8 * ({_case('nat_result', NAT_CODES)}) "
    f"+ ({_case('vaccination', VACCINATION_CODES)}) "
    "FROM health_profiles WHERE revision > {mark} AND revision <= {mark}"
)


ROW = np.dtype([("key", "S32"), ("nat_at", np.int64), ("packed", np.int16)])


def _empty() -> Arrays:
    return (np.empty(0, dtype="S32"), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int8))


class StatusBook:
    """Everyone's status for the scan path (one per app, shared by its threads)."""

    def __init__(self, settings: Settings) -> None:
        self.rules = Rules.of(settings)
        self._watch = changes.Watcher(HEALTH_COUNTER, settings.cache_poll_seconds)
        self._arrays: Arrays = _empty()  # keys, nat_at, packed; sorted by key
        self._overlay: dict[str, Entry] = {}
        self._watched: dict[str, HealthRecord] = {}
        self._revision = 0

    # --- freshness ----------------------------------------------------------------------

    def fresh(self) -> bool:
        """Whether lookups may go ahead without asking the database first."""
        return self._watch.fresh()

    def sync(self, session: Session) -> bool:
        """Load what changed since this worker last looked (everything, the first time)."""
        return self._watch.refresh(session, lambda: self._load(session))

    def expire(self) -> None:
        """Look at the counter on the next call (after a change made in this process)."""
        self._watch.expire()

    @property
    def size(self) -> int:
        return len(self._arrays[0]) + len(self._overlay)

    # --- lookups ------------------------------------------------------------------------

    def status(self, person_key: str, at: datetime) -> PersonStatus:
        """The person's status at `at`, from memory."""
        record = self._watched.get(person_key)
        if record is not None:
            return status_at(record, at, self.rules)
        entry = self._overlay.get(person_key) or self._find(person_key)
        nat, vaccination = None, VaccinationState.no_record
        if entry is not None:
            nat_at, packed = entry
            vaccination = VACCINATION_CODES[packed % 8]
            if 0 <= nat_at <= at.timestamp():
                nat = Nat(datetime.fromtimestamp(nat_at, UTC), NAT_CODES[packed // 8 % 8])
        if self.rules.yellow_without_nat:
            nats = (nat,) if nat else ()
            return status_at(HealthRecord(nats=nats, vaccination=vaccination), at, self.rules)
        return PersonStatus(colour=Colour.green, nat=nat, vaccination=vaccination)

    def _find(self, person_key: str) -> Entry | None:
        keys, nat_at, packed = self._arrays
        wanted = person_key.encode()
        index = int(keys.searchsorted(wanted))
        if index < len(keys) and keys[index] == wanted:
            return (int(nat_at[index]), int(packed[index]))
        return None

    # --- loading ------------------------------------------------------------------------

    def _load(self, session: Session) -> None:
        top = session.scalar(select(func.max(HealthProfile.revision))) or 0
        # Through the driver, streamed: a cold start reads every profile (over a million).
        connection = session.connection().connection.driver_connection
        sqlite = session.get_bind().dialect.name == "sqlite"
        cursor = connection.cursor() if sqlite else connection.cursor(name="health_profiles")  # type: ignore[union-attr]
        cursor.execute(PROFILES.format(mark="?" if sqlite else "%s"), (self._revision, top))
        first_load = not len(self._arrays[0]) and not self._overlay
        parts: list[Arrays] = []
        watched: list[str] = []
        unwatched: list[str] = []
        while chunk := cursor.fetchmany(CHUNK):
            if first_load:
                rows = np.fromiter(chunk, dtype=ROW, count=len(chunk))
                flagged = rows["packed"] >= WATCHED
                watched.extend(rows["key"][flagged].astype(str).tolist())
                packed = (rows["packed"] % WATCHED).astype(np.int8)
                parts.append((rows["key"], rows["nat_at"], packed))
                continue
            for key, at, code in chunk:
                self._overlay[key] = (int(at), code % WATCHED)
                (watched if code >= WATCHED else unwatched).append(key)
        cursor.close()
        if parts:
            self._arrays = _sorted(
                tuple(np.concatenate(column) for column in zip(*parts, strict=True))
            )
        elif len(self._overlay) > OVERLAY_MAX:
            self._fold()
        self._load_watched(session, watched, unwatched, top)
        self._revision = max(self._revision, top)

    def _load_watched(
        self, session: Session, watched: list[str], unwatched: list[str], top: int
    ) -> None:
        """The events and NAT results of the watched people among the profiles just read."""
        for key in unwatched:
            self._watched.pop(key, None)
        records: dict[str, tuple[list[Event], list[Nat]]] = {key: ([], []) for key in watched}
        just_read = (
            HealthProfile.watched,
            HealthProfile.revision > self._revision,
            HealthProfile.revision <= top,
        )
        events = session.execute(
            select(HealthProfile.person_key, HealthEvent.kind, HealthEvent.occurred_at)
            .join(HealthEvent, HealthEvent.person_id == HealthProfile.person_id)
            .where(*just_read)
        )
        for key, kind, occurred_at in events:
            if key in records:
                records[key][0].append(Event(EventKind(kind), occurred_at))
        nats = session.execute(
            select(HealthProfile.person_key, NatTest.sampled_at, NatTest.result)
            .join(NatTest, NatTest.person_id == HealthProfile.person_id)
            .where(*just_read)
        )
        for key, sampled_at, result in nats:
            if key in records:
                records[key][1].append(Nat(sampled_at, NatResult(result)))
        for key, (events_of, nats_of) in records.items():
            entry = self._overlay.get(key) or self._find(key)
            vaccination = VACCINATION_CODES[entry[1] % 8] if entry else VaccinationState.no_record
            self._watched[key] = HealthRecord(tuple(events_of), tuple(nats_of), vaccination)

    def _fold(self) -> None:
        """Merge the overlay into the arrays (readers see either the old or the new whole)."""
        keys, nat_at, packed = self._arrays
        overlay = dict(self._overlay)
        new_keys = np.array(list(overlay), dtype="S32")
        values = np.array(list(overlay.values()), dtype=np.int64).reshape(-1, 2)
        index = np.searchsorted(keys, new_keys)
        present = index < len(keys)
        present[present] = keys[index[present]] == new_keys[present]
        nat_at, packed = nat_at.copy(), packed.copy()
        nat_at[index[present]] = values[present, 0]
        packed[index[present]] = values[present, 1]
        absent = ~present
        self._arrays = _sorted(
            (
                np.concatenate([keys, new_keys[absent]]),
                np.concatenate([nat_at, values[absent, 0]]),
                np.concatenate([packed, values[absent, 1].astype(np.int8)]),
            )
        )
        self._overlay = {}


def _sorted(arrays: Arrays) -> Arrays:
    order = np.argsort(arrays[0], kind="stable")
    return tuple(column[order] for column in arrays)
