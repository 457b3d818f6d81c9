"""Demo district generation: `placecode demo` as a user runs it (a fresh process in a fresh
directory), timed from the command until the served district answers /healthz, for each
--days asked; the median over --repeat runs, the peak memory of the process, the rows it
wrote and 真南 market's 18 March. The baseline of the same go is SQLite's own floor on this
machine: a bare `executemany` writing as many rows of the check-in table's width into an
empty table with no index (ratio = time to serve / floor).

    .venv/bin/python bench/bench_demo.py [--days 14 28] [--repeat 3]
        [--people 1240000] [--scans 400000]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import free_port, header

from placecode.demo.district import ZHENNAN
from placecode.demo.population import RESIDENTS
from placecode.demo.scans import SCANS_PER_DAY, SURGE_DAY

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


def peak_memory_mib(pid: int) -> float:
    """The process's resident high-water mark so far (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Run:
    seconds: float  # from the command until /healthz answers
    peak_mib: float
    rows: dict[str, int]
    surge: int  # 真南's scans on 18 March
    usual: list[int]  # its scans on the other days


def serve(people: int, scans: int, days: int) -> Run:
    with tempfile.TemporaryDirectory(prefix="placecode-bench-demo.") as scratch:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLACECODE_")}
        port = free_port()
        started = time.perf_counter()
        command = [PLACECODE, "demo", "--port", str(port), "--days", str(days)]
        command += ["--people", str(people), "--scans", str(scans)]
        process = subprocess.Popen(
            command, cwd=scratch, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"placecode demo stopped: {process.communicate()[1]!r}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                        break
                except OSError:
                    time.sleep(0.1)
            seconds = time.perf_counter() - started
            peak = peak_memory_mib(process.pid)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=300)
        with sqlite3.connect(Path(scratch) / "placecode-demo.db") as connection:
            rows = {
                table: int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
                for table in TABLES
            }
            by_day = dict(
                connection.execute(
                    "SELECT date(c.scanned_at, 'unixepoch', '+8 hours') AS day, count(*) "
                    "FROM checkins c JOIN venues v ON v.id = c.venue_id WHERE v.name = ? "
                    "GROUP BY day",
                    (ZHENNAN,),
                ).fetchall()
            )
    surge = int(by_day.pop(SURGE_DAY.isoformat(), 0))
    return Run(seconds, peak, rows, surge, sorted(int(n) for n in by_day.values()))


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
    parser.add_argument("--days", type=int, nargs="+", default=[14, 28])
    parser.add_argument("--people", type=int, default=RESIDENTS)
    parser.add_argument("--scans", type=int, default=SCANS_PER_DAY)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    header(
        "Demo district generation: `placecode demo` until it serves",
        f".venv/bin/python bench/bench_demo.py --days {' '.join(map(str, args.days))} "
        f"--repeat {args.repeat} --people {args.people} --scans {args.scans}",
    )
    print(
        "| days | check-ins | rows written | up and serving, median (runs) | peak memory "
        "| floor | ratio | 真南 on 18 March (other days) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for days in args.days:
        runs = [serve(args.people, args.scans, days) for _ in range(args.repeat)]
        floors = [floor(sum(run.rows.values())) for run in runs]
        median, base = statistics.median(r.seconds for r in runs), statistics.median(floors)
        last = runs[-1]
        usual = f"{last.usual[0]:,}–{last.usual[-1]:,}" if last.usual else "none"
        print(
            f"| {days} | {last.rows['checkins']:,} | {sum(last.rows.values()):,} "
            f"| **{median:.1f} s** ({', '.join(f'{r.seconds:.1f}' for r in runs)}) "
            f"| {max(r.peak_mib for r in runs):,.0f} MiB | {base:.1f} s | {median / base:.2f} "
            f"| {last.surge:,} ({usual}) |"
        )


if __name__ == "__main__":
    main()
