"""`placecode tokens`: API bearer tokens (also the device tokens of sentinels)."""

from __future__ import annotations

import typer
from rich.table import Table

from placecode.accounts import service
from placecode.cli.common import console, operator, unit_of_work

app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)


@app.command()
def create(
    username: str,
    name: str = typer.Option("cli", help="What the token is for."),
    days: int | None = typer.Option(None, help="Lifetime in days (default from settings)."),
) -> None:
    """Create a token for USERNAME and print its secret (once)."""
    with unit_of_work() as (settings, session):
        user = service.get_user(session=session, username=username)
        token, secret = service.create_api_token(
            session=session, settings=settings, actor=operator(), user=user, name=name, days=days
        )
        expires = token.expires_at.isoformat(timespec="seconds")
    console.print(f"Token {token.id} for {username}, valid until {expires}:")
    console.print(secret, highlight=False, soft_wrap=True)


@app.command("list")
def list_tokens(username: str) -> None:
    """List the tokens of USERNAME (never their secrets)."""
    with unit_of_work(write=False) as (_settings, session):
        user = service.get_user(session=session, username=username)
        table = Table("id", "name", "created", "expires", "last used", "revoked")
        for token in service.list_api_tokens(session=session, user=user):
            table.add_row(
                token.id,
                token.name,
                token.created_at.isoformat(timespec="minutes"),
                token.expires_at.isoformat(timespec="minutes"),
                token.last_used_at.isoformat(timespec="minutes") if token.last_used_at else "",
                token.revoked_at.isoformat(timespec="minutes") if token.revoked_at else "",
            )
    console.print(table)


@app.command()
def revoke(token_id: str) -> None:
    """Revoke a token by its id; it stops working at once."""
    with unit_of_work() as (_settings, session):
        service.revoke_api_token(session=session, actor=operator(), token_id=token_id)
    console.print(f"Revoked {token_id}.")
