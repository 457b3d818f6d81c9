"""The scan path's status book: cold-start load of a whole district's health profiles and
the cost of one status lookup, against a plain dictionary of the same people.

    .venv/bin/python bench/bench_status.py [--people 1240000] [--watched 0.01]
        [--backends sqlite postgresql] [--repeat 5]

The district: `--people` profiles (everyone's latest NAT and vaccination state), of whom
`--watched` are not green (a close contact or an exposure, with their NAT results). For
PostgreSQL a throwaway server is started (Debian's postgresql-15) and removed afterwards.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_checkins import Postgres
from common import header, prepared_database, throwaway_settings
from rich.progress import Progress

from placecode import changes
from placecode.clock import clock
from placecode.db import Database, DriverSql
from placecode.health.book import HEALTH_COUNTER, StatusBook
from placecode.health.status import Colour, Nat, NatResult, PersonStatus, VaccinationState

CHUNK = 50_000
STATES = [s.value for s in VaccinationState]


def copy_rows(
    database: Database, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    with database.session() as session:
        DriverSql(session).insert_rows(table, columns, rows)


def build_district(
    database: Database, people: int, watched_share: float
) -> tuple[list[str], list[str]]:
    """Persons, profiles, events and NAT results for a district; (green keys, watched keys)."""
    rng = random.Random(2022)
    now = clock.now()
    created = now.astimezone(UTC)
    keys = [f"{rng.getrandbits(128):032x}" for _ in range(people)]
    watched = set(rng.sample(range(people), int(people * watched_share)))
    with Progress(transient=True) as progress:
        task = progress.add_task("building the district", total=people * 2)
        for start in range(0, people, CHUNK):
            ids = range(start, min(start + CHUNK, people))
            copy_rows(
                database,
                "persons",
                (
                    "id",
                    "person_key",
                    "doc_type",
                    "sealed",
                    "name_masked",
                    "doc_masked",
                    "source",
                    "created_at",
                ),
                [
                    (i + 1, keys[i], "passport", b"sealed", "—", "E****1234", "bench", created)
                    for i in ids
                ],
            )
            progress.advance(task, len(ids))
        for start in range(0, people, CHUNK):
            ids = range(start, min(start + CHUNK, people))
            copy_rows(
                database,
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
                        i + 1,
                        keys[i],
                        int(now.timestamp()) - rng.randrange(1, 72 * 3600),
                        "negative",
                        STATES[i % 4],
                        i in watched,
                        1,
                    )
                    for i in ids
                ],
            )
            progress.advance(task, len(ids))
    kinds = ("close_contact", "exposure")
    copy_rows(
        database,
        "health_events",
        ("person_id", "kind", "occurred_at", "source", "created_by", "created_at"),
        [
            (i + 1, kinds[i % 2], created - timedelta(days=1), "import", "bench", created)
            for i in watched
        ],
    )
    copy_rows(
        database,
        "nat_results",
        ("person_id", "sampled_at", "result", "created_at"),
        [(i + 1, created - timedelta(days=2), "negative", created) for i in watched],
    )
    with database.session() as session:
        changes.bump(session=session, name=HEALTH_COUNTER)
    green = [keys[i] for i in range(people) if i not in watched]
    return green, [keys[i] for i in watched]


def rss_mib() -> float:
    """This process's resident memory now."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(backend: str, url: str, people: int, watched: float, repeat: int) -> None:
    settings = throwaway_settings(database_url=url)
    clock.configure(settings)
    database = prepared_database(settings)
    started = time.perf_counter()
    green, flagged = build_district(database, people, watched)
    print(f"{backend}: district of {people:,} built in {time.perf_counter() - started:.0f} s")

    loads = []
    rss_before = max_rss_mib()
    book = StatusBook(settings)
    for _ in range(repeat):
        book = StatusBook(settings)
        gc.collect()
        with database.session() as session:
            started = time.perf_counter()
            book.sync(session)
            loads.append(time.perf_counter() - started)
    assert book.size == people, book.size
    array_mib = sum(column.nbytes for column in book._arrays) / 2**20
    print(
        f"{backend}: cold load of {people:,} profiles ({len(flagged):,} not green): "
        f"median {statistics.median(loads):.2f} s over {repeat} "
        f"(min {min(loads):.2f}, max {max(loads):.2f}); arrays {array_mib:.0f} MiB; "
        f"peak RSS grew by {max_rss_mib() - rss_before:.0f} MiB"
    )

    now = clock.now()
    rng = random.Random(7)
    samples = {
        "green (in the arrays)": rng.sample(green, 10_000),
        "not green (rules applied)": rng.sample(flagged, min(10_000, len(flagged))),
        "unknown person": [f"{rng.getrandbits(128):032x}" for _ in range(10_000)],
    }
    assert book.status(flagged[0], now).colour is not Colour.green

    # Baseline: the same people in a plain dict, as a simpler book would hold them.
    gc.collect()
    rss_before_dict = rss_mib()
    plain: dict[str, tuple[int, int]] = {}
    keys_array, nat_at, packed = book._arrays
    for start in range(0, len(keys_array), CHUNK):
        for key, at, code in zip(
            keys_array[start : start + CHUNK].tolist(),
            nat_at[start : start + CHUNK].tolist(),
            packed[start : start + CHUNK].tolist(),
            strict=True,
        ):
            plain[key.decode()] = (at, code)
    nat_results, vaccination_states = list(NatResult), list(VaccinationState)
    print(f"{backend}: the same people in a plain dict take {rss_mib() - rss_before_dict:.0f} MiB")

    def dict_status(key: str) -> PersonStatus:
        entry = plain.get(key)
        if entry is None:
            return PersonStatus(colour=Colour.green)
        nat = Nat(datetime.fromtimestamp(entry[0], UTC), nat_results[entry[1] // 8])
        return PersonStatus(
            colour=Colour.green, nat=nat, vaccination=vaccination_states[entry[1] % 8]
        )

    def per_call(lookup: Any, keys: list[str]) -> float:
        runs = []
        for _ in range(7):
            started = time.perf_counter()
            for key in keys:
                lookup(key)
            runs.append((time.perf_counter() - started) / len(keys))
        return statistics.median(runs) * 1e6

    baseline = per_call(dict_status, samples["green (in the arrays)"])
    for name, keys in samples.items():
        cost = per_call(lambda key: book.status(key, now), keys)
        print(f"{backend}: lookup, {name}: {cost:.1f} µs per call (median of 7 × {len(keys):,})")
    cost = per_call(lambda key: book.status(key, now), samples["green (in the arrays)"])
    print(
        f"{backend}: baseline dict lookup of the same green people: {baseline:.1f} µs; "
        f"ratio book / dict {cost / baseline:.2f}"
    )
    database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=1_240_000)
    parser.add_argument("--watched", type=float, default=0.01)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    header(
        "Status book: cold load and lookups (medians)",
        f"python bench/bench_status.py --people {args.people} --watched {args.watched} "
        f"--repeat {args.repeat}",
    )
    postgres = Postgres() if "postgresql" in args.backends else None
    try:
        for backend in args.backends:
            if backend == "sqlite":
                url = throwaway_settings().database_url
            else:
                assert postgres is not None
                url = postgres.new_url()
            run(backend, url, args.people, args.watched, args.repeat)
    finally:
        if postgres is not None:
            postgres.stop()


if __name__ == "__main__":
    main()
