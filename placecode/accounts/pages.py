"""Pages of accounts: sign-in and sign-out, one's own API tokens, users and audit for admins."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from placecode.accounts import service
from placecode.accounts.authz import ALL_STAFF, check_csrf, requires
from placecode.accounts.models import ROLE_LABELS, Role
from placecode.accounts.principal import Principal
from placecode.errors import PlaceCodeError, Unauthorized
from placecode.i18n import _
from placecode.web.deps import SessionDep, SettingsDep
from placecode.web.templating import render

router = APIRouter(include_in_schema=False)

Staff = Annotated[Principal, requires(*ALL_STAFF)]
DistrictAdmin = Annotated[Principal, requires(Role.district_admin)]


def safe_next(target: str | None, default: str = "/") -> str:
    """Follow `next` only within this site (else go to `default`)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    """Show the sign-in form."""
    return render(request, "accounts/login.html", {"next": safe_next(next)})


@router.post("/login", response_class=HTMLResponse, dependencies=[Depends(check_csrf)])
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=400)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the password and start a session (the failure still counts, hence no raise)."""
    try:
        user = service.sign_in(
            session=session,
            settings=settings,
            username=username,
            password=password,
            ip=request.client.host if request.client else None,
        )
    except PlaceCodeError as exc:
        page = render(
            request,
            "accounts/login.html",
            {"next": safe_next(next), "error": exc.message, "username": username},
            status_code=exc.status,
        )
        page.headers.update(exc.headers)
        return page
    request.session.clear()
    request.session.update(
        {"uid": user.id, "epoch": user.session_epoch, "csrf": secrets.token_urlsafe(24)}
    )
    return RedirectResponse(safe_next(next), status_code=303)


@router.get("/login/device", response_class=HTMLResponse)
def device_form(request: Request) -> HTMLResponse:
    """Sign a sentinel device in with its device token."""
    return render(request, "accounts/device.html", {})


@router.post("/login/device", response_class=HTMLResponse, dependencies=[Depends(check_csrf)])
def device_login(
    request: Request, session: SessionDep, token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Check the device token; the kiosk stays signed in as the device."""
    try:
        user = service.user_for_token(session=session, secret=token.strip())
        if user.role != Role.sentinel:
            raise Unauthorized(_("This is not a device token."), code="not_a_device")
    except PlaceCodeError as exc:
        return render(
            request, "accounts/device.html", {"error": exc.message}, status_code=exc.status
        )
    request.session.clear()
    request.session.update(
        {"uid": user.id, "epoch": user.session_epoch, "csrf": secrets.token_urlsafe(24)}
    )
    return RedirectResponse("/sentinel", status_code=303)


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request) -> Response:
    """End the session."""
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def _account_page(
    request: Request,
    principal: Principal,
    session: SessionDep,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    user = service.get_user(session=session, username=principal.username)
    return render(
        request,
        "accounts/account.html",
        {
            "principal": principal,
            "role_label": ROLE_LABELS[principal.role],
            "tokens": service.list_api_tokens(session=session, user=user),
            **extra,
        },
        status_code=status_code,
    )


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, principal: Staff, session: SessionDep) -> HTMLResponse:
    """Your account and your API tokens."""
    return _account_page(request, principal, session)


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    principal: Staff,
    session: SessionDep,
    settings: SettingsDep,
    name: Annotated[str, Form(max_length=200)] = "",
    days: Annotated[int | None, Form(ge=1, le=3650)] = None,
) -> HTMLResponse:
    """Create a token and show its secret once."""
    user = service.get_user(session=session, username=principal.username)
    try:
        token, secret = service.create_api_token(
            session=session, settings=settings, actor=principal, user=user, name=name, days=days
        )
    except PlaceCodeError as exc:
        session.rollback()
        return _account_page(request, principal, session, exc.status, error=exc.message)
    return _account_page(request, principal, session, 201, new_token=token, new_secret=secret)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(token_id: str, principal: Staff, session: SessionDep) -> Response:
    """Revoke one of your tokens."""
    user = service.get_user(session=session, username=principal.username)
    service.revoke_api_token(session=session, actor=principal, token_id=token_id, owner=user)
    return RedirectResponse("/account", status_code=303)


def _users_page(
    request: Request,
    principal: Principal,
    session: SessionDep,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "accounts/users.html",
        {
            "principal": principal,
            "users": service.list_users(session=session),
            "roles": list(Role),
            "role_labels": ROLE_LABELS,
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users(request: Request, principal: DistrictAdmin, session: SessionDep) -> HTMLResponse:
    """All accounts, and a form to add one."""
    return _users_page(request, principal, session)


@router.post("/admin/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    principal: DistrictAdmin,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[Role, Form()] = Role.registrar,
    scope: Annotated[str, Form(max_length=200)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """Create an account from the form."""
    try:
        service.create_user(
            session=session,
            settings=settings,
            actor=principal,
            username=username,
            role=role,
            scope=scope or None,
            display_name=display_name or None,
            password=password or None,
        )
    except PlaceCodeError as exc:
        session.rollback()
        return _users_page(request, principal, session, exc.message, exc.status)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{username}/{action}")
def toggle_user(
    username: str, action: str, principal: DistrictAdmin, session: SessionDep
) -> Response:
    """Disable or enable an account."""
    if action not in ("disable", "enable"):
        return RedirectResponse("/admin/users", status_code=303)
    service.set_user_active(
        session=session, actor=principal, username=username, active=action == "enable"
    )
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/audit", response_class=HTMLResponse)
def audit(
    request: Request,
    principal: DistrictAdmin,
    session: SessionDep,
    action: Annotated[str | None, Query(max_length=60)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> HTMLResponse:
    """The audit log, newest first."""
    entries = service.list_audit(session=session, action=action or None, before_id=before_id)
    return render(
        request,
        "accounts/audit.html",
        {"principal": principal, "entries": entries, "action": action or ""},
    )
