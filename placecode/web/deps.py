"""Typed dependencies shared by every domain's routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from placecode.config import Settings
from placecode.db import Database
from placecode.errors import PlaceCodeError


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent.

    An error rolls it back, except the few that must leave a trace (a failed sign-in
    counts towards the lock-out although the request fails).
    """
    database: Database = request.app.state.db
    with database.sessions() as session:
        try:
            yield session
        except PlaceCodeError as exc:
            if exc.keep_changes:
                session.commit()
            else:
                session.rollback()
            raise
        except BaseException:
            session.rollback()
            raise
        else:
            session.commit()


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
# scope="function": the commit happens before the response leaves, so a 2xx means durable.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
