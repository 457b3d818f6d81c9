"""`placecode simulate`: live check-in load on a running server, as the demo's residents."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

import typer
from rich.progress import Progress
from rich.table import Table

from placecode.cli.common import console, database, settings
from placecode.cli.identity import load_demo_issuer
from placecode.config import get_settings
from placecode.demo import load
from placecode.demo.scans import SCANS_PER_DAY
from placecode.errors import InvalidInput


def simulate(
    url: str = typer.Option("http://127.0.0.1:8000", help="The running server."),
    rate: float = typer.Option(
        round(SCANS_PER_DAY / 86_400, 2),
        min=0,
        help="Scans a second on the day's average (Putuo: 400,000 a day); 0: as fast as "
        "the server answers.",
    ),
    duration: float = typer.Option(60, min=1, max=24 * 3600, help="Seconds to run."),
    connections: int = typer.Option(32, min=1, max=1000, help="Concurrent connections."),
    speedup: float = typer.Option(
        1.0, min=0.001, help="Run the daily profile this many times faster (1440: a day a minute)."
    ),
    people: int = typer.Option(2_000, min=1, help="Residents who scan."),
    venues: int = typer.Option(1_000, min=1, help="Venues they scan at."),
    seed: int = typer.Option(2022),
    path: Path = typer.Option(
        Path("placecode-demo.db"),
        "--database",
        help="The demo's SQLite file, when it exists (else the configured database).",
    ),
) -> None:
    """Check in at a target rate that follows the daily profile, for a while, and print the
    achieved rate, the answers and the latency percentiles. Run it where the server runs:
    it signs person tokens with the demo issuers' keys and reads the venues' codes."""
    if path.exists():
        os.environ["PLACECODE_DATABASE_URL"] = f"sqlite:///{path.resolve()}"
        get_settings.cache_clear()
    loaded = settings()
    db = database(loaded)
    try:
        with db.session() as session:
            try:
                visitors = load.prepare_visitors(
                    session=session,
                    settings=loaded,
                    people=people,
                    venues=venues,
                    seed=seed,
                    signer=lambda name: load_demo_issuer(loaded, name),
                    valid_for=timedelta(seconds=duration) + timedelta(hours=1),
                )
            except LookupError as exc:
                raise InvalidInput(str(exc), code="no_venues") from exc
    finally:
        db.dispose()
    shape = "as fast as answered" if rate == 0 else f"{rate:g}/s on average, by the daily profile"
    console.print(
        f"Checking in at {url} for {duration:g} s, {shape}: {len(visitors.tokens):,} residents, "
        f"{len(visitors.codes):,} venues, {connections} connections.",
        highlight=False,
    )
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("check-ins", total=duration)
        report = asyncio.run(
            load.run_load(
                url=url,
                visitors=visitors,
                rate=rate,
                duration=duration,
                connections=connections,
                zone=loaded.zone,
                speedup=speedup,
                seed=seed,
                tick=lambda elapsed: progress.update(task, completed=elapsed),
            )
        )
    table = Table("figure", "value", title="Check-ins")
    table.add_row("sent", f"{report.sent:,}")
    table.add_row("achieved rate", f"{report.rate:.1f}/s")
    for answer, count in sorted(report.answers.items()):
        table.add_row(f"answer {answer}", f"{count:,}")
    table.add_row("errors", f"{report.errors:,}")
    for share in (50, 90, 99):
        table.add_row(f"latency p{share}", f"{report.percentile(share):.1f} ms")
    table.add_row("latency max", f"{report.percentile(100):.1f} ms")
    if report.late:
        table.add_row("sent late (client behind)", f"{report.late:,}")
    console.print(table)
    if report.sent == 0 or report.errors:
        raise typer.Exit(1)
