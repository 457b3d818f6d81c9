"""`placecode analytics`: surge and drop detection for a day, the daily roll-up, and a
day's report."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.progress import track
from rich.table import Table

from placecode.accounts.models import Role
from placecode.accounts.principal import Principal
from placecode.analytics import service
from placecode.cli.common import console, unit_of_work

app = typer.Typer(help="Foot traffic: detection and reports.", no_args_is_help=True)

DISTRICT = Principal(0, "cli", "cli", Role.district_admin, None, "cli")


@app.command()
def detect(
    date: datetime | None = typer.Option(
        None, "--date", formats=["%Y-%m-%d"], help="The day (default: yesterday and today so far)."
    ),
    hour: int = typer.Option(24, min=1, max=24, help="Counts up to this local hour (24: all day)."),
) -> None:
    """Judge every venue's scans against its usual day and raise the new alerts."""
    # Judged while only reading, the alerts raised after: on SQLite a command that held the
    # write lock while it judged would keep the server's scans waiting for seconds.
    with unit_of_work(write=False) as (loaded, session):
        days = [(date.date(), hour)] if date else service.days_to_judge(loaded)
        judged = [service.judge(session=session, settings=loaded, day=d, hour=h) for d, h in days]
    with unit_of_work() as (loaded, session):
        runs = [service.raise_alerts(session=session, found=found) for found in judged]
        for found in runs:
            upto = "the whole day" if found.hour == 24 else f"up to {found.hour}:00"
            console.print(
                f"{found.day} ({upto}, baseline {found.basis}): {found.venues:,} venues judged, "
                f"{len(found.raised)} new alert(s).",
                highlight=False,
            )
            for alert in found.raised:
                console.print(
                    f"  {alert.kind:5} {alert.venue_id}  {alert.count:,} against "
                    f"{alert.baseline:,.0f} (×{alert.ratio}, z {alert.z})  → "
                    f"{alert.department_code}, {alert.street_code}",
                    highlight=False,
                )


@app.command()
def rollup(
    date: datetime | None = typer.Option(
        None, "--date", formats=["%Y-%m-%d"], help="The day (default: every day not done yet)."
    ),
) -> None:
    """Roll finished days' venue-hours up to streets and categories (the dashboards read
    these); the server does it every hour, yesterday again for check-ins uploaded late."""
    with unit_of_work() as (loaded, session):
        days = (
            [date.date()]
            if date is not None
            else service.pending_days(session=session, settings=loaded)
        )
    for day in track(days, description="rolling up", console=console, transient=True):
        with unit_of_work() as (loaded, session):  # a day at a time: check-ins go on
            service.roll_up(session=session, settings=loaded, day=day)
    console.print(
        f"Rolled up {len(days)} day(s)"
        + (f": {days[0]} to {days[-1]}." if days else " (none pending)."),
        highlight=False,
    )


@app.command()
def report(
    date: datetime = typer.Option(..., "--date", formats=["%Y-%m-%d"], help="The day."),
) -> None:
    """The day's scans in the district against a usual day, per street and category, the
    busiest venues and the alerts still open."""
    with unit_of_work(write=False) as (loaded, session):
        found = service.overview(
            session=session, settings=loaded, principal=DISTRICT, day=date.date()
        )
    change = (found.scans / found.usual_so_far - 1) * 100 if found.usual_so_far else 0.0
    console.print(
        f"{found.day}: {found.scans:,} scans, a usual day {found.usual_so_far:,.0f} "
        f"({change:+.0f} %, baseline {found.basis}), {found.open_alerts} alert(s) open.",
        highlight=False,
    )
    for title, areas in (("street", found.streets), ("category", found.categories)):
        table = Table(title, "scans", "usual")
        for area in areas:
            table.add_row(area.code, f"{area.scans:,}", f"{area.usual:,.0f}")
        console.print(table)
    table = Table("busiest venue", "id", "scans")
    for venue, name, _street, _category, n in found.top_venues:
        table.add_row(name, venue, f"{n:,}")
    console.print(table)
