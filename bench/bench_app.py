"""The app under benchmark, plus the ceiling: a trivial POST endpoint on the same app, with
the same middleware and server settings, that parses a small JSON body and answers one."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

from placecode.web.app import create_app


class Ping(BaseModel):
    venue_code: str


class Pong(BaseModel):
    ok: bool
    length: int


def create() -> FastAPI:
    app = create_app()

    @app.post("/bench/ceiling", include_in_schema=False)
    async def ceiling(body: Ping) -> Pong:
        return Pong(ok=True, length=len(body.venue_code))

    # First in line, as the check-in route is: the comparison is of the work, not of routing.
    app.router.routes.insert(0, app.router.routes.pop())
    return app
