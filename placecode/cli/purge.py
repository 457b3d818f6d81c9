"""`placecode purge`: retention (the server also runs it daily)."""

from __future__ import annotations

import typer

from placecode.checkins import service
from placecode.cli.common import console, unit_of_work


def purge(
    days: int | None = typer.Option(
        None, min=1, help="Keep this many days (default: the setting)."
    ),
) -> None:
    """Delete check-ins older than the retention window, and people with nothing left."""
    with unit_of_work() as (loaded, session):
        purged = service.purge(session=session, settings=loaded, days=days)
    dropped = f" ({len(purged.partitions)} day partitions dropped)" if purged.partitions else ""
    console.print(
        f"Removed {purged.check_ins} check-ins before {purged.before:%Y-%m-%d %H:%M} UTC{dropped}"
        f" and {purged.people} people with nothing left."
    )
