"""`placecode analytics`: surge and drop detection for a day, and a day's summary."""

from __future__ import annotations

from datetime import datetime

import typer
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
    with unit_of_work() as (loaded, session):
        if date is None:
            runs = service.detect_now(session=session, settings=loaded)
        else:
            runs = [service.detect(session=session, settings=loaded, day=date.date(), hour=hour)]
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
def report(
    date: datetime = typer.Option(..., "--date", formats=["%Y-%m-%d"], help="The day."),
) -> None:
    """The day's scans in the district against a usual day, per street and category, the
    busiest venues and the alerts raised."""
    with unit_of_work() as (loaded, session):
        found = service.day_summary(
            session=session, settings=loaded, principal=DISTRICT, day=date.date()
        )
    change = (found.scans / found.usual - 1) * 100 if found.usual else 0.0
    console.print(
        f"{found.day}: {found.scans:,} scans, a usual day {found.usual:,.0f} ({change:+.0f} %), "
        f"{found.alerts} alert(s).",
        highlight=False,
    )
    for title, counts in (("street", found.by_street), ("category", found.by_category)):
        table = Table(title, "scans")
        for name, n in sorted(counts.items(), key=lambda item: -item[1]):
            table.add_row(name, f"{n:,}")
        console.print(table)
    table = Table("busiest venue", "id", "scans")
    for venue, name, n in found.top_venues:
        table.add_row(name, venue, f"{n:,}")
    console.print(table)
