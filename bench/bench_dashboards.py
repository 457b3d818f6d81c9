"""Foot-traffic dashboards on a demo district: the server time of the district dashboard
(page and API) for the district, a street and a department, and of a venue's page; the
roll-up that makes them cheap, per day; against one raw pass over a day's venue-hours
(what any figure of a day costs without the roll-up), measured in the same run.

    .venv/bin/python bench/bench_dashboards.py --database DISTRICT.db [--key-dir DIR]
    .venv/bin/python bench/bench_dashboards.py --postgresql [--days 28]

Build the SQLite district first (`placecode demo --no-serve --days 28 --people 1240000
--scans 400000`, or reuse the one bench_tracing.py builds); with --postgresql the full
district is built by the demo's code into a throwaway server (about 18 minutes) and removed
afterwards. "Today" is 23 March 2022 at 23:30: the
hourly job has rolled up its hours to 23:00, the last hour is read raw. The roll-ups (and
three bench accounts) stay in the district, as the server's hourly job would leave them.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_checkins import Postgres
from common import header
from sqlalchemy import delete
from starlette.testclient import TestClient

from placecode import db
from placecode.accounts.models import Role
from placecode.accounts.service import Operator, create_user
from placecode.analytics import service
from placecode.analytics.models import RolledUpDay
from placecode.cli import demo
from placecode.clock import clock
from placecode.config import get_settings
from placecode.demo.district import ZHENNAN
from placecode.venues.models import Venue
from placecode.web.app import create_app

TODAY = date(2022, 3, 23)
ROLES: list[tuple[str, Role, str | None]] = [
    ("district", Role.district_admin, None),
    ("street", Role.street_admin, "zhenruzhen"),
    ("department", Role.regulator, "commerce"),
]


def timed(action: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def signed_in(client: TestClient, username: str, password: str) -> None:
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", type=Path, default=None)
    parser.add_argument("--key-dir", type=Path, default=None)
    parser.add_argument("--postgresql", action="store_true")
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    header("Dashboards", ".venv/bin/python bench/bench_dashboards.py " + " ".join(sys.argv[1:]))
    if not args.postgresql:
        if args.database is None:
            parser.error("give --database DISTRICT.db or --postgresql")
        key_dir = args.key_dir or args.database.parent / ".placecode"
        measure(f"sqlite:///{args.database.resolve()}", key_dir, args.repeat)
        return
    server = Postgres()
    try:
        url = server.new_url()
        key_dir = Path(tempfile.mkdtemp(prefix="placecode-bench-dashboards.")) / "keys"
        os.environ["PLACECODE_KEY_DIR"] = str(key_dir)
        started = time.perf_counter()
        demo.build(
            path=key_dir.parent / "unused.db",
            url=url,
            seed=2022,
            venues=19_782,
            today=date(2022, 3, 24),
            days=args.days,
            people=1_240_000,
            scans=400_000,
        )
        print(f"PostgreSQL district built in {time.perf_counter() - started:.0f} s")
        measure(url, key_dir, args.repeat)
    finally:
        server.stop()


def measure(url: str, key_dir: Path, repeat: int) -> None:
    os.environ["PLACECODE_DATABASE_URL"] = url
    os.environ["PLACECODE_KEY_DIR"] = str(key_dir)
    os.environ["PLACECODE_SCHEDULER"] = "false"
    os.environ["PLACECODE_LOG_LEVEL"] = "WARNING"
    os.environ["PLACECODE_CLOCK_FROZEN_AT"] = f"{TODAY}T23:30:00+08:00"  # the app keeps it
    get_settings.cache_clear()
    settings = get_settings()
    clock.configure(settings)
    database = db.Database.connect(settings)
    db.upgrade(database.engine)
    passwords = {}
    with database.session() as session:
        first = service.first_day(session, settings)
        assert first is not None, "the district has no scans"
        days = [first + timedelta(days=n) for n in range((TODAY - first).days + 1)]
        rolled = []
        for day in days:
            started = time.perf_counter()
            service.roll_up(session=session, settings=settings, day=day)
            rolled.append(time.perf_counter() - started)
        start = service.midnight(TODAY, settings)
        raw = timed(lambda: service.counts_between(session, start, start + 86_400), 5)
        zhennan = session.query(Venue.id).filter(Venue.name == ZHENNAN).scalar()
        for label, role, scope in ROLES:
            username = f"bench-{label}-{secrets.token_hex(3)}"
            passwords[label] = (username, secrets.token_urlsafe(18))
            create_user(
                session=session,
                settings=settings,
                actor=Operator(username="bench"),
                username=username,
                role=role,
                scope=scope,
                display_name="bench",
                password=passwords[label][1],
            )
    print(f"roll-up per day: median {statistics.median(rolled):.2f} s over {len(days)} days")
    print(f"raw pass over one day's venue-hours (baseline): median {raw * 1000:.0f} ms")
    app = create_app(settings, database)
    figures: dict[str, float] = {}
    for label, _role, _scope in ROLES:
        with TestClient(app, base_url="http://127.0.0.1") as client:
            signed_in(client, *passwords[label])
            for name, url in (
                ("today", "/analytics"),
                ("18 March", "/analytics?day=2022-03-18"),
                ("API today", "/api/v1/analytics/overview"),
            ):
                assert client.get(url).status_code == 200
                figures[f"{label} dashboard {name}"] = timed(partial(client.get, url), repeat)
            if label == "department":
                for name, url in (
                    ("today", f"/analytics/venues/{zhennan}"),
                    ("18 March", f"/analytics/venues/{zhennan}?day=2022-03-18"),
                ):
                    assert client.get(url).status_code == 200
                    figures[f"venue page {name}"] = timed(partial(client.get, url), repeat)
            if label == "district":
                # The worst case: the hourly job has not run today, all of it is read raw.
                with database.session() as session:
                    session.execute(delete(RolledUpDay).where(RolledUpDay.day == TODAY))
                figures["district dashboard today, not rolled up"] = timed(
                    lambda: client.get("/analytics"), 3
                )
                with database.session() as session:
                    service.roll_up(session=session, settings=settings, day=TODAY)
    for name, seconds in figures.items():
        print(f"{name}: median {seconds * 1000:.0f} ms (×{seconds / raw:.2f} of a raw day pass)")
    database.dispose()


if __name__ == "__main__":
    main()
