"""Foot traffic on a demo district: detection over every venue for each day (the whole day,
and 真南's surge day up to noon), its time per day, and the alerts raised in all; against
the raw pass over the hour index that detection makes (the day and its baseline days'
counts per venue), measured in the same run.

    .venv/bin/python bench/bench_analytics.py --database DISTRICT.db [--key-dir DIR]

Build the district first (`placecode demo --no-serve --days 28 --people 1240000 --scans
400000`, or reuse the one bench_tracing.py builds); the alerts are written to it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import header

from placecode import db
from placecode.analytics import service
from placecode.analytics.surges import baseline_days
from placecode.config import get_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--key-dir", type=Path, default=None)
    args = parser.parse_args()
    header("Foot traffic", ".venv/bin/python bench/bench_analytics.py " + " ".join(sys.argv[1:]))
    os.environ["PLACECODE_DATABASE_URL"] = f"sqlite:///{args.database.resolve()}"
    os.environ["PLACECODE_KEY_DIR"] = str(args.key_dir or args.database.parent / ".placecode")
    os.environ["PLACECODE_CLOCK_TODAY"] = "2022-03-24"
    get_settings.cache_clear()
    settings = get_settings()
    database = db.Database.connect(settings)
    db.upgrade(database.engine)
    with database.session() as session:
        first = service.first_day(session, settings)
        assert first is not None, "the district has no scans"
        days = [first + timedelta(days=n) for n in range((date(2022, 3, 24) - first).days)]
        raw: list[float] = []
        timed: list[float] = []
        kinds: Counter[str] = Counter()
        noon = None
        for day in days:
            started = time.perf_counter()
            for past in [day, *baseline_days(day, first)[0]]:
                start = service.midnight(past, settings)
                service.counts_between(session, start, start + 86_400)
            raw.append(time.perf_counter() - started)
            if day == date(2022, 3, 18):
                found = service.detect(session=session, settings=settings, day=day, hour=12)
                noon = [(a.venue_id, a.kind, a.count, a.baseline) for a in found.raised]
            started = time.perf_counter()
            found = service.detect(session=session, settings=settings, day=day)
            timed.append(time.perf_counter() - started)
            kinds.update(f"{a.kind} ({found.basis})" for a in found.raised)
        session.rollback()  # the benchmark leaves the district as it found it
    print(f"days judged: {len(days)} ({days[0]} to {days[-1]}), 19,782 venues each")
    print(f"detection per day: median {statistics.median(timed):.2f} s, max {max(timed):.2f} s")
    print(
        f"raw hour-index passes per day: median {statistics.median(raw):.2f} s; "
        f"ratio {statistics.median(timed) / statistics.median(raw):.2f}"
    )
    print(f"alerts over all days (whole-day detection): {dict(kinds)}")
    print(f"18 March up to noon: {noon}")
    database.dispose()


if __name__ == "__main__":
    main()
