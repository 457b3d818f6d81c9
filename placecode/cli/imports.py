"""`placecode import`: files from other systems, row by row, with a progress bar."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import Progress

from placecode.checkins import service as checkins
from placecode.checkins.store import days_of, make_partitions_apart, store_visits
from placecode.cli.common import console, errors, operator, unit_of_work
from placecode.db import begin_write
from placecode.errors import PlaceCodeError
from placecode.health import service as health
from placecode.health.book import StatusBook
from placecode.people.sealing import load_sealer
from placecode.signing import Keyring
from placecode.venues.codes import CodeBook

app = typer.Typer(
    help="Import check-ins and health records (cases, NAT results, vaccinations) from files.",
    no_args_is_help=True,
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

        statuses = StatusBook(loaded)
        statuses.sync(session)
        rows, good, problems = checkins.read_logbook(
            settings=loaded,
            filename=path.name,
            content=path.read_bytes(),
            venue_allowed=venue_allowed,
        )
        visits = checkins.logbook_visits(
            settings=loaded,
            statuses=statuses,
            venues=venues,
            rows=good,
            channel="import",
            recorded_by="cli",
        )
        unchanged = 0
        if not dry_run and visits:
            sealer = load_sealer(loaded)
            make_partitions_apart(session, days_of(visits))  # scans are not held up meanwhile
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


def _import_health(kind: health.ImportKind, path: Path, dry_run: bool) -> None:
    try:
        with (
            unit_of_work() as (loaded, session),
            Progress(console=console, transient=True) as progress,
        ):
            task = progress.add_task(f"importing {kind.value}", total=None)

            def advance(count: int, total: int) -> None:
                progress.update(task, total=total, advance=count)

            report = health.import_health_file(
                session=session,
                settings=loaded,
                sealer=load_sealer(loaded),
                actor=operator(),
                kind=kind,
                filename=path.name,
                content=path.read_bytes(),
                dry_run=dry_run,
                progress=advance,
            )
    except PlaceCodeError as exc:
        errors.print(f"{path.name}: {exc.message}", highlight=False)
        raise typer.Exit(2) from None
    verb = "would write" if dry_run else "wrote"
    console.print(
        f"{report.rows} rows: {verb} {report.accepted}, {report.unchanged} already there, "
        f"{report.rejected} rejected."
    )
    for problem in report.problems:
        errors.print(f"  row {problem.row}, {problem.field}: {problem.reason}", highlight=False)
    if report.problems:
        raise typer.Exit(1)


FILE = typer.Argument(..., exists=True, dir_okay=False, help="CSV or .xlsx file.")
DRY_RUN = typer.Option(False, help="Check every row, write nothing.")


@app.command("cases")
def import_cases(path: Path = FILE, dry_run: bool = DRY_RUN) -> None:
    """CDC case and contact lists: doc_type,doc_number,name,phone,category,occurred_at,case_id."""
    _import_health(health.ImportKind.cases, path, dry_run)


@app.command("nat")
def import_nat(path: Path = FILE, dry_run: bool = DRY_RUN) -> None:
    """NAT results: doc_type,doc_number,sampled_at,result,institution."""
    _import_health(health.ImportKind.nat, path, dry_run)


@app.command("vaccinations")
def import_vaccinations(path: Path = FILE, dry_run: bool = DRY_RUN) -> None:
    """Vaccinations: doc_type,doc_number,dose,vaccinated_at,product ('exempt' for a medical
    exemption)."""
    _import_health(health.ImportKind.vaccinations, path, dry_run)
