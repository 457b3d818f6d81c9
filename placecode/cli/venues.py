"""`placecode venues`: bulk registration from the command line."""

from __future__ import annotations

from pathlib import Path

import typer

from placecode.accounts import service as accounts
from placecode.accounts.principal import Principal
from placecode.cli.common import console, errors, unit_of_work
from placecode.venues import service

app = typer.Typer(help="Register venues in bulk.", no_args_is_help=True)


@app.command("import")
def import_venues(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV or .xlsx file."),
    user: str = typer.Option(
        ..., help="Register as this account (its role and scope apply, as on the page)."
    ),
    dry_run: bool = typer.Option(False, help="Check every row, register nothing."),
) -> None:
    """Register venues from name,address,street,category,lon,lat,operator_name rows."""
    with unit_of_work() as (_settings, session):
        principal = Principal.of(accounts.get_user(session=session, username=user), "cli")
        report = service.import_venues(
            session=session,
            principal=principal,
            filename=path.name,
            content=path.read_bytes(),
            dry_run=dry_run,
        )
    verb = "would register" if dry_run else "registered"
    console.print(
        f"{report.rows} rows: {verb} {report.accepted}, {report.unchanged} already known, "
        f"{report.rejected} rejected."
    )
    for problem in report.problems:
        errors.print(f"  row {problem.row}, {problem.field}: {problem.reason}", highlight=False)
    if report.rejected:
        raise typer.Exit(1)
