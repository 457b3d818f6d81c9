"""Tracing on the demo district: one index case's trajectory and contacts (service layer and
through the API), the same with secondary contacts, and 100 index cases with secondary
contacts in one batch; against the raw index range scans for the same visits (the person's
visits, then each visit's venue window), measured in the same run. SQLite and PostgreSQL.

    .venv/bin/python bench/bench_tracing.py [--backends sqlite postgresql] [--days 28]
        [--people 1240000] [--scans 400000] [--samples 50] [--batch 100]
        [--sqlite-file EXISTING.db]   # reuse a district built by `placecode demo`

The district is built by the demo's own code (`placecode demo`'s build) into a throwaway
database; a PostgreSQL server is started for it and removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from bench_checkins import Postgres
from common import header
from sqlalchemy import text
from starlette.testclient import TestClient

from placecode.accounts.models import Role
from placecode.accounts.service import Operator, create_api_token, create_user
from placecode.cli import demo
from placecode.config import get_settings
from placecode.db import Database
from placecode.tracing import service as tracing
from placecode.web.app import create_app

TODAY = date(2022, 3, 24)
WINDOW = timedelta(days=5)


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    return (
        f"p50 {statistics.median(ms):.1f} ms, p90 {ms[int(len(ms) * 0.9) - 1]:.1f} ms, "
        f"max {ms[-1]:.1f} ms"
    )


def raw_scans(log: tracing.VisitLog, person: int, since: int, until: int) -> None:
    """The index range scans tracing makes for one case (the person's visits, then each
    visit's venue window), rows fetched and nothing computed."""
    sql, mark = log.sql, log.sql.mark
    visits = sql.all(
        "SELECT venue_id, scanned_at FROM checkins WHERE person_id = "
        f"{mark} AND scanned_at > {mark} AND scanned_at < {mark}",
        (person, since - 86_400, until),
    )
    for venue, scanned in visits:
        dwell = log.dwell(venue)
        sql.all(
            "SELECT person_id, scanned_at, checkout_at FROM checkins WHERE venue_id = "
            f"{mark} AND scanned_at > {mark} AND scanned_at < {mark}",
            (venue, scanned - dwell, scanned + dwell),
        )


def measure(url: str, key_dir: Path, samples: int, batch: int) -> dict[str, Any]:
    os.environ["PLACECODE_DATABASE_URL"] = url
    os.environ["PLACECODE_KEY_DIR"] = str(key_dir)
    os.environ["PLACECODE_CLOCK_TODAY"] = TODAY.isoformat()
    os.environ["PLACECODE_SCHEDULER"] = "false"
    os.environ["PLACECODE_LOG_LEVEL"] = "WARNING"
    get_settings.cache_clear()
    settings = get_settings()
    database = Database.connect(settings)
    now = int(datetime.combine(TODAY, datetime.min.time(), tzinfo=settings.zone).timestamp())
    since, until = now - int(WINDOW.total_seconds()), now
    with database.session() as session:
        people = [
            row[0]
            for row in session.execute(
                text(
                    "SELECT DISTINCT person_id FROM checkins WHERE scanned_at >= :since "
                    "AND scanned_at < :until"
                ),
                {"since": since, "until": until},
            )
        ]
        rng = np.random.default_rng(7)
        chosen = rng.choice(people, size=min(samples + batch, len(people)), replace=False).tolist()
        singles, many = chosen[:samples], chosen[samples:]
        listed = ",".join(str(int(person)) for person in singles)
        keys: dict[int, str] = dict(
            session.execute(
                text(f"SELECT id, person_key FROM persons WHERE id IN ({listed})")
            ).all()
        )
        analyst = create_user(
            session=session,
            settings=settings,
            actor=Operator(username="bench"),
            username=f"bench-cdc-{secrets.token_hex(3)}",
            role=Role.cdc_analyst,
            scope=None,
            display_name="bench",
            password=secrets.token_urlsafe(18),
        )
        _token, secret = create_api_token(
            session=session,
            settings=settings,
            actor=Operator(username="bench"),
            user=analyst,
            name="b",
        )
    figures: dict[str, Any] = {"people_in_window": len(people)}
    with database.session() as session:
        log = tracing.VisitLog(session)
        raw, one, two, sizes = [], [], [], []
        for person in singles:
            started = time.perf_counter()
            raw_scans(log, person, since, until)
            raw.append(time.perf_counter() - started)
            started = time.perf_counter()
            found = tracing.trace(
                session=session,
                indexes=[tracing.IndexWindow(person, since, until)],
                degree=1,
                now=until,
            )
            one.append(time.perf_counter() - started)
            started = time.perf_counter()
            found2 = tracing.trace(
                session=session,
                indexes=[tracing.IndexWindow(person, since, until)],
                degree=2,
                now=until,
            )
            two.append(time.perf_counter() - started)
            sizes.append((len(found.contacts), len(found2.contacts)))
        started = time.perf_counter()
        batch_found = tracing.trace(
            session=session,
            indexes=[tracing.IndexWindow(person, since, until) for person in many],
            degree=2,
            now=until,
        )
        figures["batch_seconds"] = time.perf_counter() - started
        figures["batch_contacts"] = len(batch_found.contacts)
    figures["raw"], figures["one"], figures["two"] = raw, one, two
    figures["sizes"] = sizes
    app = create_app(settings, database)
    api = []
    with TestClient(app, base_url="http://127.0.0.1") as client:
        for person in singles:
            body = {
                "people": [
                    {
                        "person_key": keys[person],
                        "since": datetime.fromtimestamp(since, settings.zone).isoformat(),
                        "until": datetime.fromtimestamp(until, settings.zone).isoformat(),
                    }
                ],
                "degree": 1,
            }
            started = time.perf_counter()
            answer = client.post(
                "/api/v1/tracing/trace", json=body, headers={"Authorization": f"Bearer {secret}"}
            )
            api.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text
    figures["api"] = api
    database.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--people", type=int, default=1_240_000)
    parser.add_argument("--scans", type=int, default=400_000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--sqlite-file", type=Path, default=None)
    args = parser.parse_args()
    header(
        "Tracing",
        ".venv/bin/python bench/bench_tracing.py " + " ".join(sys.argv[1:]),
    )
    for backend in args.backends:
        workdir = Path(tempfile.mkdtemp(prefix="placecode-bench-tracing."))
        server = None
        try:
            key_dir = workdir / "keys"
            if backend == "sqlite" and args.sqlite_file:
                url = f"sqlite:///{args.sqlite_file.resolve()}"
                key_dir = args.sqlite_file.resolve().parent / ".placecode"
                built = 0.0
            else:
                if backend == "postgresql":
                    server = Postgres()
                    url = server.new_url()
                else:
                    url = f"sqlite:///{workdir / 'district.db'}"
                os.environ["PLACECODE_KEY_DIR"] = str(key_dir)
                started = time.perf_counter()
                demo.build(
                    path=workdir / "district.db",
                    url=url if backend == "postgresql" else None,
                    seed=2022,
                    venues=19_782,
                    today=TODAY,
                    days=args.days,
                    people=args.people,
                    scans=args.scans,
                )
                built = time.perf_counter() - started
            figures = measure(url, key_dir, args.samples, args.batch)
            contacts = [one for one, _two in figures["sizes"]]
            seconds = [two for _one, two in figures["sizes"]]
            scale = (
                f"the district in {args.sqlite_file}"
                if backend == "sqlite" and args.sqlite_file
                else f"{args.days} days, {args.people:,} residents, {args.scans:,}/day"
            )
            print(f"\n## {backend}: {scale}")
            if built:
                print(f"built in {built:.0f} s")
            print(f"index people sampled: {len(figures['one'])} of {figures['people_in_window']:,}")
            print(
                f"contacts per case (degree 1): median {statistics.median(contacts):.0f}, "
                f"max {max(contacts)}; with degree 2: median {statistics.median(seconds):.0f}, "
                f"max {max(seconds)}"
            )
            print(f"raw index range scans: {percentiles(figures['raw'])}")
            ratio = statistics.median(figures["one"]) / statistics.median(figures["raw"])
            print(
                f"trajectory + contacts (service): {percentiles(figures['one'])}  "
                f"ratio to raw p50 {ratio:.2f}"
            )
            print(f"trajectory + contacts (API): {percentiles(figures['api'])}")
            print(f"with secondary contacts (service): {percentiles(figures['two'])}")
            print(
                f"{args.batch} index cases with secondary contacts, one batch: "
                f"{figures['batch_seconds']:.1f} s, {figures['batch_contacts']:,} contacts"
            )
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
