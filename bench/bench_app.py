"""The app under benchmark, plus the ceiling: a trivial POST endpoint on the same app, with
the same middleware and server settings, that parses a small JSON body and answers one.

For `bench_checkins.py --stages`, also the scan path stopped part-way, to see where a
check-in's time goes: `person` (the person recognised), `planned` (venue, status and entry
decision worked out, the answer built and sent, nothing written) and `sleeping-writer`
(the same, through a thread writer's batches, sleeping instead of writing).
"""

from __future__ import annotations

import time

import pydantic_core
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from placecode.checkins import api as checkins_api
from placecode.checkins import service
from placecode.checkins.schemas import CheckInRequest
from placecode.checkins.store import Stored
from placecode.checkins.writer import Result, ThreadWriter, _Job
from placecode.health.api import current_statuses
from placecode.people.auth import current_person
from placecode.venues.api import get_codebook
from placecode.web.app import create_app
from placecode.web.deps import LeanRoute


class Ping(BaseModel):
    venue_code: str


class Pong(BaseModel):
    ok: bool
    length: int


class SleepingWriter(ThreadWriter):
    """Batches as the thread writer does, then sleeps as long as a commit takes."""

    def _write(self, jobs: list[_Job]) -> list[Result]:
        time.sleep(0.005)
        return [[Stored(0, 0, False) for _visit in job.order.visits] for job in jobs]


async def planned(body: CheckInRequest, request: Request) -> service.Scan:
    claim = await current_person(request)
    token = checkins_api.venue_token(body.venue_code)
    venue = get_codebook(request).cached(token)
    if venue is None:
        venue = await run_in_threadpool(checkins_api.verify_code, request, token)
    return service.plan_scan(
        venue=venue,
        claim=claim,
        statuses=await current_statuses(request),
        limiter=checkins_api.get_limiter(request),
        channel=claim.channel,
    )


def answer(scan: service.Scan, stored: list[Stored]) -> Response:
    content = pydantic_core.to_json(checkins_api.scan_answer(scan, list(stored)))
    return Response(content, status_code=201, media_type="application/json")


def create() -> FastAPI:
    app = create_app()
    sleeping: list[SleepingWriter] = []

    @app.post("/bench/ceiling", include_in_schema=False)
    async def ceiling(body: Ping) -> Pong:
        return Pong(ok=True, length=len(body.venue_code))

    # The stages are served as the scan is, by a LeanRoute.
    async def person(body: CheckInRequest, request: Request) -> Response:
        claim = await current_person(request)
        pong = Pong(ok=True, length=len(claim.person_key))
        return Response(pong.__pydantic_serializer__.to_json(pong), media_type="application/json")

    async def plan_only(body: CheckInRequest, request: Request) -> Response:
        scan = await planned(body, request)
        return answer(scan, [Stored(0, 0, False) for _person in scan.people])

    async def sleeping_writer(body: CheckInRequest, request: Request) -> Response:
        scan = await planned(body, request)
        if not sleeping:
            sleeping.append(SleepingWriter(request.app.state.settings, request.app.state.db))
        stored = await sleeping[0].submit(scan.visits, window_seconds=300)
        return answer(scan, [item for item in stored if isinstance(item, Stored)])

    for name, endpoint in (
        ("person", person),
        ("planned", plan_only),
        ("sleeping-writer", sleeping_writer),
    ):
        app.router.add_api_route(
            f"/bench/stages/{name}",
            endpoint,
            methods=["POST"],
            include_in_schema=False,
            route_class_override=LeanRoute,
        )

    # The ceiling first in line and the check-in route (the app's first) right after it:
    # the comparison is of the work, not of routing. The stages come after both.
    routes = app.router.routes
    ceiling_route, *stage_routes = routes[-4:]
    del routes[-4:]
    scan = next(i for i, r in enumerate(routes) if getattr(r, "path", "") == "/api/v1/checkins")
    routes[scan + 1 : scan + 1] = stage_routes
    routes.insert(scan, ceiling_route)
    return app
