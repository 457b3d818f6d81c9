"""The FastAPI app factory: wires every domain's routes, pages and middleware together."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import fastapi_offline
import plotly
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError
from starlette.middleware.sessions import SessionMiddleware

import placecode
from placecode import scheduler
from placecode.accounts import api as accounts_api
from placecode.accounts import pages as accounts_pages
from placecode.analytics import api as analytics_api
from placecode.analytics import pages as analytics_pages
from placecode.analytics import tasks as analytics_tasks
from placecode.checkins import api as checkins_api
from placecode.checkins import pages as checkins_pages
from placecode.checkins import tasks as checkins_tasks
from placecode.checkins.service import ScanLimiter
from placecode.checkins.store import DAY, ensure_partitions, epoch
from placecode.checkins.writer import make_writer
from placecode.clock import clock
from placecode.config import Settings, get_settings
from placecode.db import Database
from placecode.health import api as health_api
from placecode.health import pages as health_pages
from placecode.health.book import StatusBook
from placecode.people import api as people_api
from placecode.people import pages as people_pages
from placecode.people.identity import IdentityBook
from placecode.region import api as region_api
from placecode.signing import Keyring
from placecode.tracing import api as tracing_api
from placecode.tracing import pages as tracing_pages
from placecode.venues import api as venues_api
from placecode.venues import pages as venues_pages
from placecode.venues.codes import CodeBook
from placecode.web import api as system_api
from placecode.web import errors
from placecode.web import pages as web_pages
from placecode.web.errors import Problem
from placecode.web.middleware import LocaleMiddleware, SecurityHeadersMiddleware
from placecode.web.observability import ObservabilityMiddleware, configure_logging

STATIC_DIR = Path(__file__).parent / "static"
API_DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
PLOTLY_ASSETS = Path(plotly.__file__).parent / "package_data"  # plotly.min.js, from the wheel
SESSION_COOKIE = "placecode_session"

# Answers any API route may give besides its own, documented so clients (and the
# schemathesis run) know their shape.
COMMON_ERRORS = {
    "400": "The request could not be read",
    "401": "Not signed in, or the token is not valid",
    "403": "Outside your role or scope",
    "404": "Not found",
    "409": "Conflicts with the current state",
    "422": "The input is not valid",
    "429": "Too many requests; see Retry-After",
    "503": "Busy for a moment; see Retry-After",
}

log = logging.getLogger(__name__)
GC_THRESHOLDS = (50_000, 20, 100)  # CPython's default: (700, 10, 10)


def tune_garbage_collector() -> None:
    """Collect young objects less often than CPython's default (every 700 allocations).

    A check-in waits a few milliseconds for its batch to be committed, so the objects of
    the requests in flight outlive the young generations; with the default thresholds
    they are promoted and the whole heap is rescanned many times a second, which cost the
    scan path a fifth of its throughput (docs/benchmarks.md). Cycles are still collected.
    """
    gc.set_threshold(*GC_THRESHOLDS)


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """Build the PlaceCode web app for these settings (read from the environment by default)."""
    settings = settings or get_settings()
    clock.configure(settings)
    configure_logging(settings)
    owns_database = database is None
    database = database or Database.connect(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Load the scan path's caches before the first request, so that no request ever
        # waits for another to load them while holding a database connection.
        await asyncio.to_thread(warm_up, app)
        tune_garbage_collector()
        await app.state.writer.start()
        jobs = None
        if settings.scheduler:
            jobs = asyncio.create_task(
                scheduler.loop(
                    database=database,
                    settings=settings,
                    jobs=checkins_tasks.JOBS + analytics_tasks.JOBS,
                )
            )
        yield
        if jobs is not None:
            jobs.cancel()
        await app.state.writer.stop()  # the queued check-ins are written before we go
        if owns_database:
            database.dispose()

    app = FastAPI(
        title="PlaceCode",
        version=placecode.__version__,
        description="Venue codes (场所码): signed QR codes, check-in with health status, "
        "tracing and foot-traffic alerts for a district.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # Metrics are Prometheus's (/metrics). FastAPI's own OpenTelemetry hooks, on by
        # default, ask on every request whether a provider is configured: about 20 µs, a
        # fifth of a trivial endpoint's time.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.db = database
    app.state.keyring = Keyring(settings)
    app.state.codes = CodeBook(settings, app.state.keyring)
    app.state.identities = IdentityBook(settings, app.state.keyring)
    app.state.statuses = StatusBook(settings)
    app.state.limiter = ScanLimiter(settings.scan_max_venues_per_minute)
    app.state.writer = make_writer(settings, database)

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret("secret_key"),
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age_hours * 3600,
        same_site="lax",
        https_only=settings.base_url.startswith("https://"),
    )
    app.add_middleware(LocaleMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.base_url.startswith("https://"))
    app.add_middleware(ObservabilityMiddleware)
    errors.install(app)

    # The scan path first: routes are tried in order. Routes are added to the app's own
    # list rather than through include_router, whose per-request matching costs about a
    # millisecond with this many routes (measured: bench/bench_checkins.py).
    for router in (
        checkins_api.router,
        checkins_pages.router,
        system_api.router,
        accounts_api.router,
        region_api.router,
        venues_api.router,
        venues_api.public_router,
        people_api.router,
        health_api.router,
        tracing_api.router,
        analytics_api.router,
        web_pages.router,
        accounts_pages.router,
        venues_pages.router,
        people_pages.router,
        health_pages.router,
        tracing_pages.router,
        analytics_pages.router,
    ):
        app.router.routes.extend(router.routes)
    app.mount("/static/apidocs", StaticFiles(directory=API_DOCS_ASSETS), name="apidocs")
    app.mount("/static/plotly", StaticFiles(directory=PLOTLY_ASSETS), name="plotly")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _openapi_with_problems(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
    return app


def warm_up(app: FastAPI) -> None:
    """Read signing keys, issuers, everyone's health status and the change counters once;
    make today's and tomorrow's check-in partitions (PostgreSQL).

    A database that is down at start does not stop the server: /healthz says so, and the
    caches load on first use once the database is back.
    """
    try:
        with app.state.db.sessions() as session:
            app.state.codes.jwks(session=session)
            app.state.identities.warm(session=session)
            app.state.statuses.sync(session)
        with app.state.db.session() as session:
            today = epoch(clock.now()) // DAY * DAY
            ensure_partitions(session, [today, today + DAY])  # not in the first scans' way
    except SQLAlchemyError as error:
        log.warning("caches not loaded at start, the database is not ready: %s", error)


def _openapi_with_problems(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with every error answer described as our Problem body."""
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in COMMON_ERRORS.items():
                if status == "401" and not path.startswith("/api/"):
                    continue
                existing = responses.get(status)
                if existing is None or status == "422":
                    responses[status] = {"description": description, "content": problem}
    return schema
