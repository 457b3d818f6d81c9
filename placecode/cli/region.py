"""`placecode region`: load the region's reference data."""

from __future__ import annotations

from pathlib import Path

import typer

from placecode.cli.common import console, unit_of_work
from placecode.region import service

app = typer.Typer(
    help="Reference data: streets, departments, venue categories.", no_args_is_help=True
)


@app.command()
def load(
    path: Path | None = typer.Argument(
        None, help="A region JSON file; default: the packaged Putuo district file."
    ),
) -> None:
    """Check a region file and load it; any problem loads nothing."""
    source = path or service.packaged_region_path()
    data = service.read_region_file(source)
    with unit_of_work() as (_settings, session):
        summary = service.load_region(session=session, data=data)
    console.print(
        f"Loaded region {summary.region} from {source}: {summary.streets} streets and towns, "
        f"{summary.departments} departments, {summary.categories} venue categories."
    )
