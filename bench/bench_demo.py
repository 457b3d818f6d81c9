"""Demo district generation: `placecode demo --no-serve` at a given scale, as a user runs it
(a fresh process in a fresh directory), the median build time over --repeat runs, the rows
it wrote, and the baseline of the same go: SQLite's own floor on this machine, the time a
bare `executemany` takes to write as many rows of the check-in table's width into an empty
table with no index (ratio = build time / floor).

    .venv/bin/python bench/bench_demo.py [--people 124000] [--scans 40000] [--days 14]
        [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import header

PLACECODE = str(Path(sys.executable).parent / "placecode")
TABLES = (
    "checkins",
    "persons",
    "nat_results",
    "vaccinations",
    "health_profiles",
    "venue_hourly_counts",
    "companions",
)


def build(people: int, scans: int, days: int) -> tuple[float, dict[str, int]]:
    with tempfile.TemporaryDirectory(prefix="placecode-bench-demo.") as scratch:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLACECODE_")}
        started = time.perf_counter()
        subprocess.run(
            [
                PLACECODE,
                "demo",
                "--no-serve",
                "--people",
                str(people),
                "--scans",
                str(scans),
                "--days",
                str(days),
            ],
            cwd=scratch,
            env=env,
            check=True,
            capture_output=True,
        )
        seconds = time.perf_counter() - started
        with sqlite3.connect(Path(scratch) / "placecode-demo.db") as connection:
            rows = {
                table: int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
                for table in TABLES
            }
    return seconds, rows


def floor(rows: int) -> float:
    """Seconds for a bare executemany of `rows` check-in-wide rows (10 columns)."""
    with tempfile.TemporaryDirectory(prefix="placecode-bench-floor.") as scratch:
        connection = sqlite3.connect(Path(scratch) / "floor.db", isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-262144"):
            connection.execute(f"PRAGMA {pragma}")
        connection.execute("CREATE TABLE t (a, b, c, d, e, f, g, h, i, j)")
        batch = [
            (n, 1647000000 + n, "u99gyrvg3k", n % 1_000_000, "wechat", "green", 1, None, None, None)
            for n in range(100_000)
        ]
        started = time.perf_counter()
        connection.execute("BEGIN")
        for _ in range(rows // len(batch)):
            connection.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
        connection.execute("COMMIT")
        seconds = time.perf_counter() - started
        connection.close()
    return seconds * rows / (rows // len(batch) * len(batch))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=124_000)
    parser.add_argument("--scans", type=int, default=40_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    header(
        "Demo district generation",
        f".venv/bin/python bench/bench_demo.py --people {args.people} --scans {args.scans} "
        f"--days {args.days} --repeat {args.repeat}",
    )
    builds, floors, rows = [], [], {}
    for _ in range(args.repeat):
        seconds, rows = build(args.people, args.scans, args.days)
        builds.append(seconds)
        floors.append(floor(sum(rows.values())))
    total = sum(rows.values())
    print(f"rows written: {total:,} ({', '.join(f'{t} {n:,}' for t, n in rows.items())})")
    print(f"build (median of {args.repeat}): {statistics.median(builds):.1f} s")
    print(f"floor, bare executemany of as many rows: {statistics.median(floors):.1f} s")
    print(f"ratio build / floor: {statistics.median(builds) / statistics.median(floors):.2f}")


if __name__ == "__main__":
    main()
