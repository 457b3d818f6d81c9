"""`placecode users`: accounts with a role and a scope."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from placecode.accounts import service
from placecode.accounts.models import Role
from placecode.accounts.security import generate_password
from placecode.cli.common import console, operator, unit_of_work

app = typer.Typer(help="Create, list, disable and enable accounts.", no_args_is_help=True)


def _ask_password(password: str | None) -> tuple[str, bool]:
    """The password given, else one typed at a terminal, else a generated one (to print)."""
    if password:
        return password, False
    if sys.stdin.isatty():
        typed: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return typed, False
    return generate_password(), True


@app.command()
def create(
    username: str,
    role: Role = typer.Option(..., help="One of the roles of the four-party responsibility."),
    scope: str | None = typer.Option(
        None, help="Street, department, organisation or venue code the role is bound to."
    ),
    name: str | None = typer.Option(None, help="Display name."),
    password: str | None = typer.Option(
        None, help="Password (people only); prompted for, or generated when not a terminal."
    ),
) -> None:
    """Create an account."""
    generated = False
    if role is not Role.sentinel:
        password, generated = _ask_password(password)
    with unit_of_work() as (settings, session):
        user = service.create_user(
            session=session,
            settings=settings,
            actor=operator(),
            username=username,
            role=role,
            scope=scope,
            display_name=name,
            password=password,
        )
    console.print(
        f"Created {user.username} ({user.role}{', ' + user.scope if user.scope else ''})."
    )
    if generated:
        console.print(f"Password: [bold]{password}[/bold]  (shown once)")


@app.command("list")
def list_users(role: Role | None = typer.Option(None)) -> None:
    """List accounts."""
    with unit_of_work(write=False) as (_settings, session):
        users = service.list_users(session=session, role=role)
        table = Table("username", "name", "role", "scope", "active", "last sign-in")
        for user in users:
            table.add_row(
                user.username,
                user.display_name,
                user.role,
                user.scope or "",
                "yes" if user.is_active else "no",
                user.last_sign_in_at.isoformat(timespec="seconds") if user.last_sign_in_at else "",
            )
    console.print(table)


@app.command()
def disable(username: str) -> None:
    """Disable an account; its sessions and tokens stop working at once."""
    with unit_of_work() as (_settings, session):
        service.set_user_active(session=session, actor=operator(), username=username, active=False)
    console.print(f"Disabled {username}.")


@app.command()
def enable(username: str) -> None:
    """Enable a disabled account."""
    with unit_of_work() as (_settings, session):
        service.set_user_active(session=session, actor=operator(), username=username, active=True)
    console.print(f"Enabled {username}.")


@app.command()
def password(username: str, new_password: str | None = typer.Option(None, "--password")) -> None:
    """Set a new password (prompted, or generated and printed when not at a terminal)."""
    chosen, generated = _ask_password(new_password)
    with unit_of_work() as (settings, session):
        service.set_password(
            session=session, settings=settings, actor=operator(), username=username, password=chosen
        )
    console.print(f"Password of {username} changed; their sessions have ended.")
    if generated:
        console.print(f"Password: [bold]{chosen}[/bold]  (shown once)")
