"""Who is calling, and what their role and scope let them reach.

Every route declares what it needs with `requires(...)`; every listing narrows its query
with `scope_clause(...)`. Scope rules are written here once and nowhere else.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Depends, Request
from sqlalchemy import ColumnElement, false, true
from starlette.concurrency import run_in_threadpool

from placecode.accounts import service
from placecode.accounts.models import ROLE_LABELS, ROLE_SCOPE, SCOPE_LABELS, Role, ScopeKind, User
from placecode.errors import Forbidden, Unauthorized
from placecode.i18n import _
from placecode.web.deps import SessionDep

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Principal:
    """The signed-in user (or device) behind a request."""

    user_id: int
    username: str
    display_name: str
    role: Role
    scope: str | None
    via: Literal["session", "token"]

    @classmethod
    def of(cls, user: User, via: Literal["session", "token"]) -> Principal:
        return cls(
            user_id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=Role(user.role),
            scope=user.scope,
            via=via,
        )

    @property
    def scope_kind(self) -> ScopeKind:
        return ROLE_SCOPE[self.role]

    def covers(
        self,
        *,
        street: str | None = None,
        department: str | None = None,
        organisation: str | None = None,
        venue: str | None = None,
    ) -> bool:
        """Whether a thing with these attributes lies inside this principal's scope."""
        kind = self.scope_kind
        if kind is ScopeKind.district:
            return True
        value = {
            ScopeKind.street: street,
            ScopeKind.department: department,
            ScopeKind.organisation: organisation,
            ScopeKind.venue: venue,
        }[kind]
        return value is not None and value == self.scope

    def ensure_covers(self, **attributes: str | None) -> None:
        if not self.covers(**attributes):
            raise Forbidden(
                _("This lies outside your scope ({kind} {scope}).").format(
                    kind=_(SCOPE_LABELS[self.scope_kind]), scope=self.scope
                ),
                code="out_of_scope",
            )


def scope_clause(
    principal: Principal,
    *,
    street: Any = None,
    department: Any = None,
    organisation: Any = None,
    venue: Any = None,
) -> ColumnElement[bool]:
    """A WHERE clause limiting a listing to the principal's scope.

    Pass the columns that carry each attribute; a listing that has no column for the
    principal's kind of scope shows them nothing.
    """
    kind = principal.scope_kind
    if kind is ScopeKind.district:
        return true()
    column = {
        ScopeKind.street: street,
        ScopeKind.department: department,
        ScopeKind.organisation: organisation,
        ScopeKind.venue: venue,
    }[kind]
    if column is None:
        return false()
    clause: ColumnElement[bool] = column == principal.scope
    return clause


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


async def current_principal(request: Request, session: SessionDep) -> Principal:
    """Resolve the caller from a bearer token or the session cookie, or refuse with 401."""
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _sep, credential = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthorized(
                _("Send an API token as 'Authorization: Bearer <token>'."), code="bad_token"
            )
        user = await run_in_threadpool(
            service.user_for_token, session=session, secret=credential.strip()
        )
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
