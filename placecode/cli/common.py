"""What every command group shares: settings, a database session, one-line errors."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from sqlalchemy.orm import Session

from placecode.accounts.service import Operator
from placecode.clock import clock
from placecode.config import Settings, get_settings
from placecode.db import Database

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def settings() -> Settings:
    loaded = get_settings()
    clock.configure(loaded)
    return loaded


def database(loaded: Settings | None = None) -> Database:
    loaded = loaded or settings()
    if loaded.is_sqlite:
        # sqlite:///relative/or/absolute.db: make sure its directory exists.
        path = loaded.database_url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    return Database.connect(loaded)


@contextmanager
def unit_of_work(*, write: bool = True) -> Iterator[tuple[Settings, Session]]:
    """A session whose work is committed when the command succeeds.

    A command that may change something (`write`) takes SQLite's write lock before its
    first read, as a web request that changes something does: a transaction that read
    first and wrote later would be refused ("database is locked") whenever the server's
    check-in writer had committed in between, as under scan load it nearly always has.
    It waits its turn behind the writer's batches. Read-only commands pass write=False.
    """
    loaded = settings()
    db = database(loaded)
    try:
        with db.session_for(write=write) as session, session.begin():
            yield loaded, session
    finally:
        db.dispose()


def operator() -> Operator:
    """The person at the server's command line, as the audit log names them."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Operator(username=f"cli:{name}")
