"""Citizen pages: sign in (the demo identity provider), home with the personal code and
companions, own history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from placecode.accounts.authz import check_csrf
from placecode.accounts.pages import safe_next
from placecode.errors import PlaceCodeError
from placecode.people import service
from placecode.people.api import fresh_token, own_person, qr_svg, require_demo_identity
from placecode.people.auth import PERSON_COOKIE, CurrentPerson, get_identities
from placecode.people.documents import DOC_LABELS, DocType
from placecode.people.sealing import load_sealer
from placecode.web.deps import SessionDep, SettingsDep
from placecode.web.templating import render

router = APIRouter(include_in_schema=False)


def set_person_cookie(response: Response, request: Request, token: str) -> None:
    settings = request.app.state.settings
    response.set_cookie(
        PERSON_COOKIE,
        token,
        max_age=settings.citizen_token_days * 86_400,
        httponly=True,
        samesite="lax",
        secure=settings.base_url.startswith("https://"),
        path="/",
    )


def _login_page(
    request: Request, values: dict[str, Any], error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    return render(
        request,
        "people/login.html",
        {"values": values, "error": error, "doc_types": list(DocType), "doc_labels": DOC_LABELS},
        status_code=status_code,
    )


@router.get("/me/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    """Sign in as a citizen: name, document and mobile number."""
    require_demo_identity(request)
    return _login_page(request, {"next": safe_next(next, "/me"), "doc_type": "id_card"})


@router.post("/me/login", response_class=HTMLResponse)
async def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    doc_type: Annotated[str, Form(max_length=40)] = "",
    doc_number: Annotated[str, Form(max_length=60)] = "",
    name: Annotated[str, Form(max_length=120)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/me",
) -> Response:
    """Check the details and send (in the demo: show) a one-time code."""
    require_demo_identity(request)
    await check_csrf(request)
    values = {
        "doc_type": doc_type,
        "doc_number": doc_number,
        "name": name,
        "phone": phone,
        "next": safe_next(next, "/me"),
    }
    try:
        details = service.read_details(
            doc_type=doc_type, doc_number=doc_number, name=name, phone=phone
        )
        pending, code = service.start_sign_in(
            session=session, settings=settings, sealer=load_sealer(settings), details=details
        )
    except PlaceCodeError as exc:
        session.rollback()
        return _login_page(request, values, exc.message, exc.status)
    request.session["demo_code"] = code  # the demo's stand-in for the SMS
    target = safe_next(next, "/me")
    return RedirectResponse(f"/me/login/{pending.id}?next={target}", status_code=303)


@router.get("/me/login/{sign_in_id}", response_class=HTMLResponse)
def code_form(sign_in_id: str, request: Request, next: str | None = None) -> HTMLResponse:
    """Enter the one-time code."""
    require_demo_identity(request)
    return render(
        request,
        "people/code.html",
        {
            "sign_in_id": sign_in_id,
            "next": safe_next(next, "/me"),
            "demo_code": request.session.get("demo_code"),
        },
    )


@router.post("/me/login/{sign_in_id}", response_class=HTMLResponse)
async def confirm(
    sign_in_id: str,
    request: Request,
    session: SessionDep,
    code: Annotated[str, Form(max_length=20)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/me",
) -> Response:
    """Check the code; the citizen is signed in on this device."""
    require_demo_identity(request)
    await check_csrf(request)
    try:
        person = service.confirm_sign_in(session=session, sign_in_id=sign_in_id, code=code)
    except PlaceCodeError as exc:
        return render(
            request,
            "people/code.html",
            {
                "sign_in_id": sign_in_id,
                "next": safe_next(next, "/me"),
                "error": exc.message,
                "demo_code": request.session.get("demo_code"),
            },
            status_code=exc.status,
        )
    request.session.pop("demo_code", None)
    response = RedirectResponse(safe_next(next, "/me"), status_code=303)
    set_person_cookie(response, request, fresh_token(request, session, person))
    return response


@router.post("/me/logout")
async def logout(request: Request) -> Response:
    """Sign the citizen out on this device."""
    await check_csrf(request)
    response = RedirectResponse("/me/login", status_code=303)
    response.delete_cookie(PERSON_COOKIE, path="/")
    return response


def _home(
    request: Request,
    session: SessionDep,
    claim: Any,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    person = service.find_person(session=session, person_key=claim.person_key)
    companions = service.list_companions(session=session, guardian=person) if person else []
    token, expires = get_identities(request).personal_code(
        session=session, person_key=claim.person_key
    )
    return render(
        request,
        "people/home.html",
        {
            "citizen": claim,
            "companions": companions,
            "personal_code_svg": qr_svg(token),
            "personal_code_expires": expires,
            "doc_types": list(DocType),
            "doc_labels": DOC_LABELS,
            "relationship_labels": service.RELATIONSHIP_LABELS,
            "error": error,
            "manages_companions": claim.channel == "web",
        },
        status_code=status_code,
    )


@router.get("/me", response_class=HTMLResponse)
def home(request: Request, claim: CurrentPerson, session: SessionDep) -> HTMLResponse:
    """The citizen's page: personal code (refreshes every minute), companions, history."""
    return _home(request, session, claim)


@router.post("/me/companions", response_class=HTMLResponse)
def add_companion(
    request: Request,
    claim: CurrentPerson,
    session: SessionDep,
    settings: SettingsDep,
    doc_type: Annotated[str, Form(max_length=40)] = "",
    doc_number: Annotated[str, Form(max_length=60)] = "",
    name: Annotated[str, Form(max_length=120)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
    relationship: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Register a companion from the form."""
    try:
        guardian = own_person(session, claim)
        details = service.read_details(
            doc_type=doc_type, doc_number=doc_number, name=name, phone=phone or None
        )
        service.add_companion(
            session=session,
            settings=settings,
            sealer=load_sealer(settings),
            guardian=guardian,
            details=details,
            relationship=relationship,
        )
    except PlaceCodeError as exc:
        session.rollback()
        return _home(request, session, claim, exc.message, exc.status)
    response = RedirectResponse("/me", status_code=303)
    set_person_cookie(response, request, fresh_token(request, session, guardian))
    return response


@router.post("/me/companions/{person_key}/{action}")
def change_companion(
    person_key: str, action: str, request: Request, claim: CurrentPerson, session: SessionDep
) -> Response:
    """Today with me / not with me / remove."""
    guardian = own_person(session, claim)
    if action == "remove":
        service.remove_companion(session=session, guardian=guardian, person_key=person_key)
    else:
        service.set_with_me(
            session=session, guardian=guardian, person_key=person_key, with_me=action == "with"
        )
    response = RedirectResponse("/me", status_code=303)
    set_person_cookie(response, request, fresh_token(request, session, guardian))
    return response
