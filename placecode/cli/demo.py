"""`placecode demo`: a fresh synthetic Putuo district on SQLite, served on its own clock."""

from __future__ import annotations

import gc
import os
import sqlite3
import time
from contextlib import closing
from datetime import date, datetime
from pathlib import Path

import typer
from rich.progress import Progress, TaskID

from placecode import db as database_module
from placecode import signing
from placecode.cli import serve as serve_command
from placecode.cli.common import console, database, settings
from placecode.cli.identity import make_demo_issuers
from placecode.config import get_settings
from placecode.demo import service
from placecode.demo.district import VENUES
from placecode.demo.population import RESIDENTS
from placecode.demo.scans import SCANS_PER_DAY
from placecode.people import sealing
from placecode.region import service as region
from placecode.venues import certificates

# The whole of Putuo by default (about 50 s to build on a 2-core machine, see
# docs/benchmarks.md); --people and --scans make a smaller district.
DEFAULT_PEOPLE = RESIDENTS
DEFAULT_SCANS = SCANS_PER_DAY
PAGE_SIZE = 16_384  # bytes, for the demo's fresh SQLite file


def demo(
    seed: int = typer.Option(2022, help="The same seed gives the same district."),
    days: int = typer.Option(14, min=1, max=28, help="Days of history before today."),
    venues: int = typer.Option(VENUES, min=200, help="How many venues (the report: 19,782)."),
    people: int = typer.Option(
        DEFAULT_PEOPLE, min=1000, help=f"Residents (Putuo: {RESIDENTS:,}; see the README)."
    ),
    scans: int = typer.Option(
        DEFAULT_SCANS, min=100, help=f"Scans on an ordinary day (Putuo: {SCANS_PER_DAY:,})."
    ),
    today: datetime = typer.Option(
        "2022-03-24", formats=["%Y-%m-%d"], help="The district's today (the seed report's date)."
    ),
    path: Path = typer.Option(Path("placecode-demo.db"), "--database", help="SQLite file."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve it when built."),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000, min=1, max=65535),
) -> None:
    """Build a fresh demo district (venues, organisations, one account per role) and serve it
    on the shifted clock, so that a scan made now lands on the district's today."""
    started = time.perf_counter()
    build(
        path=path,
        seed=seed,
        venues=venues,
        today=today.date(),
        days=days,
        people=people,
        scans=scans,
    )
    console.print(f"Built in {time.perf_counter() - started:.0f} s: {path}")
    if serve:
        serve_command.serve(host=host, port=port, workers=1, access_log=False)


def build(
    *,
    path: Path,
    seed: int,
    venues: int,
    today: date,
    days: int = 14,
    people: int = DEFAULT_PEOPLE,
    scans: int = DEFAULT_SCANS,
    url: str | None = None,
) -> None:
    """Build the district into the SQLite file at `path` (made afresh), or into the empty
    database at `url` (the tracing benchmark builds one on PostgreSQL too)."""
    if url is None:
        for suffix in ("", "-wal", "-shm"):  # a fresh district every time
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(path)) as fresh:
            # Larger pages than SQLite's 4 KiB: a fifth less time to load the district.
            fresh.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            fresh.execute("PRAGMA journal_mode = WAL")
    os.environ["PLACECODE_DATABASE_URL"] = url or f"sqlite:///{path.resolve()}"
    os.environ["PLACECODE_CLOCK_TODAY"] = today.isoformat()
    get_settings.cache_clear()
    loaded = settings()
    db = database(loaded)
    # The build holds millions of live objects (its plans and rows), which the cyclic
    # collector would rescan again and again for nothing: about a fifth of the build.
    gc.disable()
    try:
        database_module.upgrade(db.engine)
        if loaded.trust_store is None:
            certificates.init_ca(loaded)
        if loaded.authority_public_key is None:
            sealing.init_authority(loaded)
        make_demo_issuers(loaded)  # 随申办, WeChat, Alipay stand-ins (the simulator signs as them)
        with db.session() as session:
            signing.ensure_signing_key(session=session, settings=loaded)
            region.load_region(
                session=session, data=region.read_region_file(region.packaged_region_path())
            )
        with Progress(console=console, transient=True) as progress:
            stages: dict[str, TaskID] = {}

            def advance(stage: str, done: int, total: int) -> None:
                if stage not in stages:
                    stages[stage] = progress.add_task(stage, total=total)
                progress.update(stages[stage], completed=done)

            built = service.build_district(
                settings=loaded,
                database=db,
                seed=seed,
                venues=venues,
                today=today,
                days=days,
                people=people,
                scans=scans,
                progress=advance,
            )
    finally:
        gc.enable()
        db.dispose()
    report(built, today=today, seed=seed, days=days)


def report(built: service.Built, *, today: date, seed: int, days: int) -> None:
    """What the tester needs first: the accounts, the district's size, its alerts and the
    outbreak."""
    plan, written, found, alerts = built.plan, built.written, built.outbreak, built.alerts
    console.print(f"Demo accounts (the district's today: {today.isoformat()}, seed {seed}):")
    for account in built.accounts:
        console.print(
            f"  {account.role:15} {account.username:16} {account.secret}  ({account.note})",
            highlight=False,
            soft_wrap=True,
        )
    citizen = service.CITIZEN
    console.print(
        f"Citizen: sign in at /me/login as {citizen['name']}, {citizen['doc_type']} "
        f"{citizen['doc_number']}, mobile {service.CITIZEN_PHONE} (the one-time code is shown "
        "on screen in the demo)."
    )
    console.print(
        f"{len(plan.venues):,} venues, {len(plan.organisations):,} organisations, "
        f"{written.people:,} residents who scanned, "
        f"{written.check_ins - found.withdrawn:,} check-ins over "
        f"{days} days, {written.nat_results:,} NAT results; 真南农副产品综合市场 is venue "
        f"{plan.zhennan.id}."
    )
    console.print(
        f"Traffic alerts raised over the {days} days: {len(alerts)}"
        + "".join(
            f"\n  {a.day} {a.kind} at {a.venue_id} by {a.raised_hour}:00: {a.count:,} scans "
            f"against a usual {a.baseline:,.0f} → {a.department_code}, {a.street_code}"
            for a in alerts[:10]
        ),
        highlight=False,
    )
    cases = found.cases
    console.print(f"The outbreak: {len(cases)} confirmed cases, entered by the CDC (account cdc):")
    for case in cases:
        how = f"met {case.infected_by[:8]}… at {case.met_at}" if case.infected_by else "index case"
        console.print(
            f"  {case.person_key}  {case.name_masked}  confirmed "
            f"{case.confirmed_at:%Y-%m-%d %H:%M}  ({how})",
            highlight=False,
        )
