"""`placecode demo`: a fresh synthetic Putuo district on SQLite, served on its own clock."""

from __future__ import annotations

import os
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import typer
from rich.progress import Progress

from placecode import db as database_module
from placecode import signing
from placecode.analytics import service as analytics
from placecode.cli import serve as serve_command
from placecode.cli.common import console, database, settings
from placecode.cli.identity import make_demo_issuers
from placecode.config import get_settings
from placecode.demo import activity, outbreak, service
from placecode.demo.district import VENUES, plan_district
from placecode.demo.population import RESIDENTS, plan_population
from placecode.demo.scans import SCANS_PER_DAY
from placecode.people import sealing
from placecode.region import service as region
from placecode.venues import certificates

# A tenth of Putuo's residents and scans by default: the full district (--people 1240000
# --scans 400000) takes several minutes to build on a 2-core machine (docs/benchmarks.md).
DEFAULT_PEOPLE = RESIDENTS // 10
DEFAULT_SCANS = SCANS_PER_DAY // 10


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
    os.environ["PLACECODE_DATABASE_URL"] = url or f"sqlite:///{path.resolve()}"
    os.environ["PLACECODE_CLOCK_TODAY"] = today.isoformat()
    get_settings.cache_clear()
    loaded = settings()
    db = database(loaded)
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
        with db.bulk_session() as session, Progress(console=console, transient=True) as progress:
            streets, categories = service.reference_data(session)
            plan = plan_district(streets=streets, categories=categories, total=venues, seed=seed)
            task = progress.add_task("organisations", total=len(plan.organisations))
            service.write_organisations(session=session, settings=loaded, plan=plan)
            progress.update(task, completed=len(plan.organisations))
            task = progress.add_task("venues", total=len(plan.venues))
            service.write_venues(
                session=session, plan=plan, progress=lambda n: progress.advance(task, n)
            )
            accounts = service.create_accounts(session=session, settings=loaded, plan=plan)
            codes = [s["code"] for s in streets]
            population = plan_population(
                venues=plan.venues,
                street_codes=codes,
                street_shares=[float(s["pop_share"]) for s in streets],
                zhennan_index=plan.venues.index(plan.zhennan),
                size=people,
                seed=seed,
            )
            history = [today - timedelta(days=n) for n in range(days, 0, -1)]
            task = progress.add_task("days of scans", total=len(history))
            written = activity.write_days(
                session=session,
                settings=loaded,
                sealer=sealing.load_sealer(loaded),
                plan=plan,
                population=population,
                days=history,
                per_day=scans,
                seed=seed,
                progress=lambda _stage, done, _total: progress.update(task, completed=done),
            )
            found = outbreak.write_outbreak(
                session=session,
                days=history,
                zone=loaded.zone,
                zhennan_id=plan.zhennan.id,
                seed=seed,
            )
            task = progress.add_task("daily roll-up", total=len(history))
            for day in history:
                analytics.roll_up(session=session, settings=loaded, day=day)
                progress.advance(task)
            # Foot-traffic alerts as the server's hourly job would have raised them: each
            # day by noon, then the whole day.
            task = progress.add_task("traffic alerts", total=len(history))
            alerts = []
            for day in history:
                for hour in (12, 24):
                    alerts += analytics.detect(
                        session=session, settings=loaded, day=day, hour=hour
                    ).raised
                progress.advance(task)
    finally:
        db.dispose()
    console.print(f"Demo accounts (the district's today: {today.isoformat()}, seed {seed}):")
    for account in accounts:
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
