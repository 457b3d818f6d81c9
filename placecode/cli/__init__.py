"""The `placecode` command: one module per command group."""

from __future__ import annotations

import sys

import typer
from sqlalchemy.exc import SQLAlchemyError

from placecode.cli import (
    analytics,
    ca,
    db,
    demo,
    identity,
    imports,
    keys,
    purge,
    region,
    serve,
    setup,
    simulate,
    tokens,
    trace,
    users,
    venues,
)
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
app.add_typer(ca.app, name="ca")
app.add_typer(keys.app, name="keys")
app.add_typer(venues.app, name="venues")
app.add_typer(identity.app, name="identity")
app.add_typer(imports.app, name="import")
app.add_typer(analytics.app, name="analytics")
app.command("purge")(purge.purge)
app.command("serve")(serve.serve)
app.command("init")(setup.init)
app.command("demo")(demo.demo)
app.command("simulate")(simulate.simulate)
app.command("trace")(trace.trace)


def run(argv: list[str] | None = None) -> int:
    """Run one command and return its exit status; a known failure prints one clear line."""
    try:
        app(args=argv, prog_name="placecode")  # usage errors and --help end in SystemExit
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except PlaceCodeError as exc:
        errors.print(f"[red]error:[/red] {exc.message}", highlight=False)
        return 1
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        errors.print(f"[red]database error:[/red] {reason}", highlight=False)
        return 1
    return 0


def main() -> None:
    sys.exit(run())
