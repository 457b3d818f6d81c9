"""`placecode purge`: retention (the server also runs it daily)."""

from __future__ import annotations

import typer
from rich.progress import Progress

from placecode.checkins import service
from placecode.cli.common import console, unit_of_work


def purge(
    days: int | None = typer.Option(
        None, min=1, help="Keep this many days (default: the setting)."
    ),
) -> None:
    """Delete check-ins older than the retention window, and people with nothing left."""
    check_ins, partitions = 0, []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("check-ins removed", total=None)
        while True:  # a batch per transaction: the server's writer is never held up for long
            with unit_of_work() as (loaded, session):
                purged = service.purge(
                    session=session, settings=loaded, days=days, limit=service.PURGE_BATCH
                )
            check_ins += purged.check_ins
            partitions += purged.partitions
            progress.update(task, completed=check_ins)
            if not purged.more:
                break
    dropped = f" ({len(partitions)} day partitions dropped)" if partitions else ""
    console.print(
        f"Removed {check_ins} check-ins before {purged.before:%Y-%m-%d %H:%M} UTC{dropped}"
        f" and {purged.people} people with nothing left."
    )
