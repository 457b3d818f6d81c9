"""Typed dependencies shared by every domain's routes.

They are `async def` on purpose: FastAPI runs a plain `def` dependency in the thread pool,
and a hop there and back costs more than everything these do. Database work is sent to
the thread pool only when there is some to do.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, get_type_hints

from fastapi import Depends, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from placecode.config import Settings
from placecode.db import Database
from placecode.errors import InvalidInput, PlaceCodeError
from placecode.i18n import _

log = logging.getLogger("placecode.web")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})  # requests that change nothing


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


KEPT_APART = "placecode.kept_apart"  # in Session.info: what to redo after a rollback


def keep_apart(session: Session, redo: Callable[[], None]) -> None:
    """Something the request's own transaction did that must stay if the request fails:
    should its transaction be rolled back, `redo` runs after, in a thread (and a
    transaction) of its own. A write refused for a bad body still used its API token.
    Once the transaction is committed (`commit_early`), there is nothing to redo."""
    session.info.setdefault(KEPT_APART, []).append(redo)


def commit_early(session: Session) -> None:
    """Commit the request's transaction before the request ends (a request about to wait
    or read at length must not hold SQLite's write lock, nor a pooled connection): what
    it kept apart is then kept, and is not redone should the request fail later."""
    session.commit()
    session.info.pop(KEPT_APART, None)


async def rolled_back(session: Session) -> None:
    """Roll the request's transaction back and redo what it keeps apart. Should a redo
    fail, that is logged and the request still fails with its own error, not the redo's."""
    await run_in_threadpool(session.rollback)
    for redo in session.info.pop(KEPT_APART, ()):
        try:
            await run_in_threadpool(redo)
        except Exception:
            log.exception("what a failed request keeps apart could not be redone")


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request, committed before the response is sent.

    A request that may change something (any method but GET, HEAD and OPTIONS) gets a
    session that writes (on SQLite: the write lock taken before its first read; see
    `Database`). An error rolls it back, except the few that must leave a trace (a failed
    sign-in counts towards the lock-out although the request fails).
    """
    database: Database = request.app.state.db
    session = database.session_for(write=request.method not in SAFE_METHODS)
    try:
        yield session
    except PlaceCodeError as exc:
        if exc.keep_changes:
            await run_in_threadpool(session.commit)
        else:
            await rolled_back(session)
        raise
    except BaseException:
        await rolled_back(session)
        raise
    else:
        if session.in_transaction():
            await run_in_threadpool(session.commit)
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()  # nothing to give back: no need for a thread


@contextmanager
def reading_apart(session: Session, database: Database) -> Iterator[Session]:
    """A session that only reads, for a request that reads at length before it writes
    little (or nothing): detection, tracing. The request's own session is committed first
    (the caller's token's use with it): on SQLite it holds the write lock from its first
    statement, and every scan would wait until the request ends. What the request writes
    after goes in its own session again, a new transaction."""
    session.commit()
    with database.sessions() as reading:
        yield reading


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
# scope="function": the commit happens before the response leaves, so a 2xx means durable.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


MAX_UPLOAD = 20 * 1024 * 1024  # an import file: about 200,000 rows of CSV


async def read_upload(file: UploadFile) -> bytes:
    """An uploaded import file, refused past MAX_UPLOAD without reading it all."""
    content = await file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise InvalidInput(_("The file is larger than 20 MB; split it."), code="too_large")
    return content


class LeanRoute(APIRoute):
    """A JSON route documented like any other, served without FastAPI's per-request
    dependency and body machinery.

    Its endpoint is `async def endpoint(body: Model, request: Request) -> Response`: the
    body is read here with the model's own JSON validator, and a body that does not fit is
    the same 422 as anywhere else. For the scan, the busiest route, where that machinery
    costs about a fifth of a check-in (bench/bench_checkins.py); everything else keeps
    FastAPI's dependencies.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint
        model: type[BaseModel] = next(
            hint
            for hint in get_type_hints(endpoint).values()
            if isinstance(hint, type) and issubclass(hint, BaseModel)
        )

        async def handle(request: Request) -> Response:
            media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media != "application/json" and not media.endswith("+json"):
                raise RequestValidationError(
                    [
                        {
                            "type": "content_type",
                            "loc": ("body",),
                            "msg": _("send the body as JSON, with Content-Type: application/json"),
                        }
                    ]
                )
            raw = await request.body()
            try:
                body = model.model_validate_json(raw)
            except ValidationError as exc:
                errors = [
                    {**error, "loc": ("body", *error["loc"])}
                    for error in exc.errors(include_url=False)
                ]
                raise RequestValidationError(errors, body=raw) from None
            response: Response = await endpoint(body, request)
            return response

        return handle
