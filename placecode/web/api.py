"""Machine endpoints: health for load balancers, metrics for Prometheus."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from placecode.web.deps import DatabaseDep
from placecode.web.observability import metrics_payload

router = APIRouter(tags=["system"])


class Health(BaseModel):
    status: str
    database: str


@router.get("/healthz", responses={503: {"model": Health}})
def healthz(database: DatabaseDep) -> Response:
    """Answer 200 when the database answers, 503 when it does not."""
    try:
        database.ping()
    except Exception as exc:  # any failure to reach the database is "unhealthy"
        body = Health(status="unhealthy", database=type(exc).__name__)
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse(Health(status="ok", database="ok").model_dump())


@router.get("/metrics", response_class=Response, include_in_schema=False)
def metrics() -> Response:
    """Prometheus metrics of this server (all its workers)."""
    payload, content_type = metrics_payload()
    return Response(payload, media_type=content_type)
