"""`placecode db`: make and check the schema (migrations are the only way one is made)."""

from __future__ import annotations

import typer

from placecode import db as database_module
from placecode.cli.common import console, database, errors, settings

app = typer.Typer(help="Create, upgrade and check the database schema.", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    db = database()
    try:
        before = database_module.current_revision(db.engine)
        database_module.upgrade(db.engine, revision)
        after = database_module.current_revision(db.engine)
    finally:
        db.dispose()
    if before == after:
        console.print(f"Schema already at {after}.")
    else:
        console.print(f"Schema upgraded from {before or 'empty'} to {after}.")


@app.command()
def check() -> None:
    """Fail unless the database is at the newest migration and matches the models."""
    db = database()
    try:
        current = database_module.current_revision(db.engine)
        head = database_module.head_revision()
        if current != head:
            errors.print(
                f"Schema is at {current or 'empty'}, newest is {head}: run `placecode db upgrade`."
            )
            raise typer.Exit(1)
        drift = database_module.schema_drift(db.engine)
    finally:
        db.dispose()
    if drift:
        errors.print("Models and migrations differ:")
        for item in drift:
            errors.print(f"  {item}")
        raise typer.Exit(1)
    console.print(f"Schema at {current}, in step with the models.")


@app.command()
def revision(message: str = typer.Option(..., "-m", "--message")) -> None:
    """(Developers) Write a new migration from the difference between models and schema."""
    from alembic import command

    loaded = settings()
    db = database(loaded)
    try:
        with db.engine.begin() as connection:
            config = database_module.alembic_config(loaded.database_url, connection)
            command.revision(config, message=message, autogenerate=True)
    finally:
        db.dispose()
