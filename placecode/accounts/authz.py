"""How the web finds out who is calling, and holds each route to its roles and scope.

Every route declares what it needs with `requires(...)`; the scope rules themselves live
in `placecode.accounts.principal` (also used by services and the CLI).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any

from fastapi import Depends, Request
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from placecode.accounts import service
from placecode.accounts.models import ROLE_LABELS, Role
from placecode.accounts.principal import Principal
from placecode.db import Database
from placecode.errors import Forbidden, Unauthorized
from placecode.i18n import _
from placecode.web.deps import SAFE_METHODS, SessionDep, keep_apart

log = logging.getLogger("placecode.accounts")

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use (also for anonymous visitors)."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return str(token)


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request that came with the cookie but not with its token."""
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(str(expected), sent):
        raise Forbidden(
            _("This form has expired or did not come from PlaceCode. Reload it and try again."),
            code="csrf",
        )


def note_use_apart(request: Request, token_id: str) -> None:
    """Note a token's use in a short writing transaction of its own: for a request that
    only reads, and for a writing one whose transaction was rolled back. In a reading
    request's own transaction, on SQLite the write would be refused
    ("database is locked") whenever another writer had committed since it began: under
    scan load nearly always, and as the note was then never kept, every read with that
    token failed. Best effort: a database too busy to take it leaves it for the next
    request."""
    database: Database = request.app.state.db
    try:
        with database.session_for(write=True) as writing, writing.begin():
            service.note_token_use(session=writing, token_id=token_id)
    except OperationalError as exc:
        log.warning("a token's use was not noted", extra={"error": str(exc.orig)})


async def current_principal(request: Request, session: SessionDep) -> Principal:
    """Resolve the caller from a bearer token or the session cookie, or refuse with 401."""
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _sep, credential = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthorized(
                _("Send an API token as 'Authorization: Bearer <token>'."), code="bad_token"
            )
        user, due = await run_in_threadpool(
            service.token_user, session=session, secret=credential.strip()
        )
        if due is not None and request.method not in SAFE_METHODS:
            # Noted in the request's transaction, which writes anyway; again apart should
            # it be rolled back (the request failed, but the token was used).
            await run_in_threadpool(service.note_token_use, session=session, token_id=due)
            keep_apart(session, lambda: note_use_apart(request, due))
        elif due is not None:
            await run_in_threadpool(note_use_apart, request, due)
        return Principal.of(user, "token")

    user_id, epoch = request.session.get("uid"), request.session.get("epoch")
    if not isinstance(user_id, int) or not isinstance(epoch, int):
        raise Unauthorized(_("Please sign in."), code="not_signed_in")
    found = await run_in_threadpool(
        service.active_user, session=session, user_id=user_id, epoch=epoch
    )
    if found is None:
        request.session.clear()
        raise Unauthorized(_("Your session has ended. Please sign in again."), code="session_ended")
    if request.method not in SAFE_METHODS:
        await check_csrf(request)
    return Principal.of(found, "session")


def requires(*roles: Role, **scope_params: str) -> Any:
    """Declare the roles a route admits and which path parameters must lie in scope.

    `requires(Role.district_admin, Role.street_admin, street="code")` admits those two
    roles, and a street admin only when the path's `code` is their street.
    """
    allowed = frozenset(roles)

    async def dependency(
        request: Request, principal: Principal = Depends(current_principal)
    ) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(
                _("Your role ({role}) may not do this.").format(
                    role=_(ROLE_LABELS[principal.role])
                ),
                code="role_not_allowed",
            )
        if scope_params:
            principal.ensure_covers(
                **{kind: request.path_params.get(param) for kind, param in scope_params.items()}
            )
        return principal

    return Depends(dependency)


ALL_STAFF = tuple(role for role in Role if role is not Role.sentinel)
