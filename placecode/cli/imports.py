"""`placecode import`: files from other systems, row by row, with a progress bar."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import Progress

from placecode.checkins import service as checkins
from placecode.checkins.store import begin_write, store_visits
from placecode.cli.common import console, errors, unit_of_work
from placecode.health.status import StatusBook
from placecode.people.sealing import load_sealer
from placecode.signing import Keyring
from placecode.venues.codes import CodeBook

app = typer.Typer(
    help="Import check-ins (and, later, health data) from files.", no_args_is_help=True
)
CHUNK = 5_000


@app.command("checkins")
def import_checkins(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV or .xlsx file."),
    dry_run: bool = typer.Option(False, help="Check every row, write nothing."),
) -> None:
    """Check-ins from logbooks or other systems, for any venue: bad rows are reported, good
    rows are written together, the same file twice adds nothing."""
    with unit_of_work() as (loaded, session):
        begin_write(session)
        book = CodeBook(loaded, Keyring(loaded))
        venues = {}

        def venue_allowed(venue_id: str) -> bool:
            venue = book.snapshot(session=session, venue_id=venue_id)
            if venue is None or venue.status == "revoked":
                return False
            venues[venue_id] = venue
            return True

        rows, good, problems = checkins.read_logbook(
            settings=loaded,
            filename=path.name,
            content=path.read_bytes(),
            venue_allowed=venue_allowed,
        )
        visits = checkins.logbook_visits(
            settings=loaded,
            statuses=StatusBook(),
            venues=venues,
            rows=good,
            channel="import",
            recorded_by="cli",
        )
        unchanged = 0
        if not dry_run and visits:
            sealer = load_sealer(loaded)
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("writing check-ins", total=len(visits))
                for start in range(0, len(visits), CHUNK):
                    chunk = visits[start : start + CHUNK]
                    stored = store_visits(
                        session=session,
                        settings=loaded,
                        sealer=sealer,
                        visits=chunk,
                        window_seconds=0,
                        source="import",
                    )
                    unchanged += sum(1 for item in stored if getattr(item, "duplicate", False))
                    progress.advance(task, len(chunk))
    verb = "would write" if dry_run else "wrote"
    console.print(
        f"{len(rows)} rows: {verb} {len(good) - unchanged}, {unchanged} already there, "
        f"{len({p.row for p in problems})} rejected."
    )
    for problem in problems:
        errors.print(f"  row {problem.row}, {problem.field}: {problem.reason}", highlight=False)
    if problems:
        raise typer.Exit(1)
