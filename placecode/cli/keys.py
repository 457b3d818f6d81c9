"""`placecode keys`: the Ed25519 keys that sign venue signing."""

from __future__ import annotations

import typer
from rich.table import Table

from placecode import signing
from placecode.cli.common import console, unit_of_work

app = typer.Typer(
    help="Rotate, retire and list the keys that sign venue signing.", no_args_is_help=True
)


@app.command()
def rotate() -> None:
    """Make a new signing key; new codes use it, codes signed before still verify."""
    with unit_of_work() as (settings, session):
        key = signing.create_signing_key(session=session, settings=settings)
        kid = key.kid
    console.print(f"New signing key {kid}; older keys keep verifying until retired.")


@app.command()
def retire(kid: str) -> None:
    """Stop a key from verifying: every code it signed is refused from now on."""
    with unit_of_work() as (_settings, session):
        signing.retire_signing_key(session=session, kid=kid)
    console.print(f"Retired {kid}: its codes are refused within seconds on every worker.")


@app.command("list")
def list_keys() -> None:
    """List the signing keys."""
    with unit_of_work(write=False) as (_settings, session):
        current = signing.current_signing_key(session=session)
        table = Table("kid", "created", "retired", "signs new codes")
        for key in signing.list_signing_keys(session=session):
            table.add_row(
                key.kid,
                key.created_at.isoformat(timespec="seconds"),
                key.retired_at.isoformat(timespec="seconds") if key.retired_at else "",
                "yes" if current is not None and current.kid == key.kid else "",
            )
    console.print(table)
