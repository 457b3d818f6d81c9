"""The scan path's view of everyone's health, in memory, kept fresh by a change counter.

Almost everyone is green, so a worker holds little: for each person with a health record,
the latest NAT and the vaccination state, in sorted numpy arrays (about 42 bytes a person,
so 1.24 million people fit in some 50 MB); and for the few whose colour may not be green
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
from sqlalchemy import select, text
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
_NAT_CODE = {result.value: code for code, result in enumerate(NAT_CODES)}
_VACCINATION_CODE = {state.value: code for code, state in enumerate(VACCINATION_CODES)}

# A profile in memory: latest NAT's sampling time (epoch seconds, -1 for none), its result
# and the vaccination state, both as indexes into the lists above.
Entry = tuple[int, int, int]
Arrays = tuple[np.ndarray[Any, Any], ...]


def _empty() -> Arrays:
    return (
        np.empty(0, dtype="S32"),
        np.empty(0, dtype=np.int64),
        np.empty(0, dtype=np.int8),
        np.empty(0, dtype=np.int8),
    )


class StatusBook:
    """Everyone's status for the scan path (one per app, shared by its threads)."""

    def __init__(self, settings: Settings) -> None:
        self.rules = Rules.of(settings)
        self._watch = changes.Watcher(HEALTH_COUNTER, settings.cache_poll_seconds)
        self._arrays: Arrays = _empty()  # keys, nat_at, nat_result, vaccination; sorted by key
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
            nat_at, result, state = entry
            vaccination = VACCINATION_CODES[state]
            if 0 <= nat_at <= at.timestamp():
                nat = Nat(datetime.fromtimestamp(nat_at, UTC), NAT_CODES[result])
        if self.rules.yellow_without_nat:
            nats = (nat,) if nat else ()
            return status_at(HealthRecord(nats=nats, vaccination=vaccination), at, self.rules)
        return PersonStatus(colour=Colour.green, nat=nat, vaccination=vaccination)

    def _find(self, person_key: str) -> Entry | None:
        keys, nat_at, result, vaccination = self._arrays
        wanted = person_key.encode()
        index = int(keys.searchsorted(wanted))
        if index < len(keys) and keys[index] == wanted:
            return (int(nat_at[index]), int(result[index]), int(vaccination[index]))
        return None

    # --- loading ------------------------------------------------------------------------

    def _load(self, session: Session) -> None:
        # Plain SQL, streamed: a cold start reads every profile (over a million rows).
        query = text(
            "SELECT person_key, COALESCE(nat_sampled_at, -1), nat_result, vaccination, "
            "watched, revision FROM health_profiles WHERE revision > :revision"
        ).execution_options(stream_results=True)
        rows = session.connection().execute(query, {"revision": self._revision})
        first_load = self._revision == 0 and not self._overlay and not len(self._arrays[0])
        parts: list[Arrays] = []
        watched: list[str] = []
        unwatched: list[str] = []
        revision = self._revision
        for chunk in rows.partitions(CHUNK):
            keys, nat_at, results, states, flags, revisions = zip(*chunk, strict=True)
            revision = max(revision, *revisions)
            for key, flag in zip(keys, flags, strict=True):
                (watched if flag else unwatched).append(key)
            codes = (
                [_NAT_CODE.get(r, 0) for r in results],
                [_VACCINATION_CODE.get(s, 0) for s in states],
            )
            if first_load:
                parts.append(
                    (
                        np.array(keys, dtype="S32"),
                        np.array(nat_at, dtype=np.int64),
                        np.array(codes[0], dtype=np.int8),
                        np.array(codes[1], dtype=np.int8),
                    )
                )
            else:
                for key, at, result, state in zip(keys, nat_at, *codes, strict=True):
                    self._overlay[key] = (int(at), result, state)
        if first_load and parts:
            self._arrays = _sorted(
                tuple(np.concatenate(column) for column in zip(*parts, strict=True))
            )
        elif len(self._overlay) > OVERLAY_MAX:
            self._fold()
        self._load_watched(session, watched, unwatched)
        self._revision = revision

    def _load_watched(self, session: Session, watched: list[str], unwatched: list[str]) -> None:
        for key in unwatched:
            self._watched.pop(key, None)
        records: dict[str, tuple[list[Event], list[Nat]]] = {key: ([], []) for key in watched}
        for start in range(0, len(watched), 500):
            keys = watched[start : start + 500]
            events = session.execute(
                select(HealthProfile.person_key, HealthEvent.kind, HealthEvent.occurred_at)
                .join(HealthEvent, HealthEvent.person_id == HealthProfile.person_id)
                .where(HealthProfile.person_key.in_(keys))
            )
            for key, kind, occurred_at in events:
                records[key][0].append(Event(EventKind(kind), occurred_at))
            nats = session.execute(
                select(HealthProfile.person_key, NatTest.sampled_at, NatTest.result)
                .join(NatTest, NatTest.person_id == HealthProfile.person_id)
                .where(HealthProfile.person_key.in_(keys))
            )
            for key, sampled_at, result in nats:
                records[key][1].append(Nat(sampled_at, NatResult(result)))
        for key, (events_of, nats_of) in records.items():
            entry = self._overlay.get(key) or self._find(key)
            vaccination = VACCINATION_CODES[entry[2]] if entry else VaccinationState.no_record
            self._watched[key] = HealthRecord(tuple(events_of), tuple(nats_of), vaccination)

    def _fold(self) -> None:
        """Merge the overlay into the arrays (readers see either the old or the new whole)."""
        keys, nat_at, result, vaccination = self._arrays
        overlay = dict(self._overlay)
        new_keys = np.array(list(overlay), dtype="S32")
        values = np.array(list(overlay.values()), dtype=np.int64).reshape(-1, 3)
        index = np.searchsorted(keys, new_keys)
        present = index < len(keys)
        present[present] = keys[index[present]] == new_keys[present]
        nat_at, result, vaccination = nat_at.copy(), result.copy(), vaccination.copy()
        at = index[present]
        nat_at[at] = values[present, 0]
        result[at] = values[present, 1]
        vaccination[at] = values[present, 2]
        absent = ~present
        self._arrays = _sorted(
            (
                np.concatenate([keys, new_keys[absent]]),
                np.concatenate([nat_at, values[absent, 0]]),
                np.concatenate([result, values[absent, 1].astype(np.int8)]),
                np.concatenate([vaccination, values[absent, 2].astype(np.int8)]),
            )
        )
        self._overlay = {}


def _sorted(arrays: Arrays) -> Arrays:
    order = np.argsort(arrays[0], kind="stable")
    return tuple(column[order] for column in arrays)
