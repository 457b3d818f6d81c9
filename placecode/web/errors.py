"""Every error answers `{"error": code, "message": text}` (pages get a readable page)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from placecode.errors import PlaceCodeError
from placecode.i18n import _
from placecode.web.middleware import is_page_path
from placecode.web.templating import render

log = logging.getLogger("placecode.errors")

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
}


class Problem(BaseModel):
    """The body of every error answer."""

    error: str
    message: str
    details: Any = None


def wants_page(request: Request) -> bool:
    return is_page_path(request.url.path) and "text/html" in request.headers.get("accept", "")


def problem_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if wants_page(request):
        if status == 401:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            # Citizens sign in on their own page; staff on theirs.
            login = "/me/login" if request.url.path.startswith("/me") else "/login"
            return RedirectResponse(f"{login}?next={quote(target)}", status_code=303)
        page = render(
            request,
            "error.html",
            {"status": status, "code": code, "message": message},
            status_code=status,
        )
        page.headers.update(headers or {})
        return page
    body = Problem(error=code, message=message, details=details).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


def _describe(errors: list[Any]) -> list[dict[str, str]]:
    described = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body",)]
        described.append({"field": ".".join(location) or "body", "message": error.get("msg", "")})
    return described


def install(app: FastAPI) -> None:
    @app.exception_handler(PlaceCodeError)
    async def placecode_error(request: Request, exc: PlaceCodeError) -> Response:
        return problem_response(
            request, exc.status, exc.code, exc.message, exc.details, exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        fields = _describe(list(exc.errors()))
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        # "invalid_request": the request does not fit the API's own schema (services
        # refusing well-formed input use their own codes).
        return problem_response(
            request,
            422,
            "invalid_request",
            _("The request is not valid: {summary}").format(summary=summary),
            fields,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = HTTP_CODES.get(exc.status_code, "error")
        if exc.status_code == 404:
            message = _("There is nothing at {path}.").format(path=request.url.path)
        elif exc.status_code == 405:
            message = _("{method} is not allowed here.").format(method=request.method)
        elif exc.status_code == 400:
            message = _("The request could not be read ({detail}). Send UTF-8 JSON.").format(
                detail=exc.detail
            )
        else:
            message = str(exc.detail)
        return problem_response(
            request, exc.status_code, code, message, headers=dict(exc.headers or {})
        )

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def unstorable_input(request: Request, exc: Exception) -> Response:
        # The database refused a value a client sent (PostgreSQL takes no NUL characters
        # in text, nor out-of-range numbers): the client's input, not our failure.
        return problem_response(
            request,
            422,
            "invalid_input",
            _("The input holds a value that cannot be stored (for example a NUL character)."),
        )

    @app.exception_handler(IntegrityError)
    async def conflicting_change(request: Request, exc: IntegrityError) -> Response:
        # The checks made before a write can be overtaken by another request making the
        # same change at the same moment (one username created twice): the database's
        # constraint refuses the later one. The client can reload and see.
        log.warning("a constraint refused a change", extra={"error": str(exc.orig)})
        return problem_response(
            request,
            409,
            "conflict",
            _("This was changed at the same moment by another request. Reload and try again."),
        )

    @app.exception_handler(OperationalError)
    async def database_busy(request: Request, exc: OperationalError) -> Response:
        # A locked or unreachable database is a moment's trouble, not a client's fault.
        log.warning("database unavailable", extra={"error": str(exc.orig)})
        return problem_response(
            request,
            503,
            "database_unavailable",
            _("The database is busy. Please try again in a moment."),
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(
            request,
            500,
            "internal_error",
            _("Something went wrong on our side. It has been logged; please try again."),
        )
