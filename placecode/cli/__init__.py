"""The `placecode` command: one module per command group."""

from __future__ import annotations

import sys

import typer
from sqlalchemy.exc import SQLAlchemyError

from placecode.cli import db, region, serve, setup, tokens, users
from placecode.cli.common import errors
from placecode.errors import PlaceCodeError

app = typer.Typer(
    name="placecode",
    help="PlaceCode: venue codes (场所码) for a district.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(region.app, name="region")
app.add_typer(users.app, name="users")
app.add_typer(tokens.app, name="tokens")
app.command("serve")(serve.serve)
app.command("init")(setup.init)


def main() -> None:
    """Run the CLI; a known failure prints one clear line and exits non-zero."""
    try:
        app()
    except PlaceCodeError as exc:
        errors.print(f"[red]error:[/red] {exc.message}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        errors.print(f"[red]database error:[/red] {reason}", highlight=False, soft_wrap=True)
        sys.exit(1)
