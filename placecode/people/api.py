"""JSON API of citizens: the demo identity provider, one's own person, companions and the
personal code."""

from __future__ import annotations

import segno
from fastapi import APIRouter, Request, status
from sqlalchemy.orm import Session

from placecode.errors import Forbidden, NotFound
from placecode.i18n import _
from placecode.people import service
from placecode.people.auth import CurrentPerson, get_identities
from placecode.people.identity import PersonClaim
from placecode.people.models import Person
from placecode.people.schemas import (
    CompanionCreate,
    CompanionUpdate,
    CompanionView,
    PersonalCode,
    PersonView,
    SignedIn,
    SignInConfirm,
    SignInStart,
    SignInStarted,
)
from placecode.people.sealing import load_sealer
from placecode.web.deps import SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1", tags=["citizens"])


def require_demo_identity(request: Request) -> None:
    if not request.app.state.settings.demo_identity:
        raise NotFound(
            _("Sign in through 随申办, WeChat or Alipay; this site's own sign-in is switched off."),
            code="demo_identity_off",
        )


def own_person(session: Session, claim: PersonClaim) -> Person:
    """The registered person behind a citizen token (companions live with them)."""
    if claim.channel != "web":
        raise Forbidden(
            _("Companions are managed on PlaceCode's own citizen page."),
            code="companions_here_only",
        )
    return service.get_person(session=session, person_key=claim.person_key)


def person_view(session: Session, claim: PersonClaim) -> PersonView:
    person = service.find_person(session=session, person_key=claim.person_key)
    companions = service.list_companions(session=session, guardian=person) if person else []
    return PersonView(
        person_key=claim.person_key,
        name_masked=claim.name_masked,
        doc_masked=claim.doc_masked,
        channel=claim.channel,
        companions=[CompanionView(**c.__dict__) for c in companions],
    )


def fresh_token(request: Request, session: Session, person: Person) -> str:
    """A citizen token carrying who is with them today."""
    companions = service.list_companions(session=session, guardian=person)
    return get_identities(request).citizen_token(
        session=session, person=person, companions=companions
    )


def qr_svg(text: str) -> str:
    return str(segno.make(text, error="m", boost_error=False).svg_inline(scale=5, border=4))


@router.post("/citizens/sign-in", status_code=status.HTTP_201_CREATED)
def start_sign_in(
    body: SignInStart, request: Request, session: SessionDep, settings: SettingsDep
) -> SignInStarted:
    """Start a citizen sign-in: name, document and mobile; a one-time code follows."""
    require_demo_identity(request)
    details = service.read_details(
        doc_type=body.doc_type, doc_number=body.doc_number, name=body.name, phone=body.phone
    )
    pending, code = service.start_sign_in(
        session=session, settings=settings, sealer=load_sealer(settings), details=details
    )
    return SignInStarted(sign_in_id=pending.id, expires_at=pending.expires_at, demo_code=code)


@router.post("/citizens/sign-in/{sign_in_id}")
def confirm_sign_in(
    sign_in_id: str, body: SignInConfirm, request: Request, session: SessionDep
) -> SignedIn:
    """Finish the sign-in with the one-time code; answers the citizen's person token."""
    require_demo_identity(request)
    person = service.confirm_sign_in(session=session, sign_in_id=sign_in_id, code=body.code)
    token = fresh_token(request, session, person)
    claim = get_identities(request).identify(session=session, token=token)
    return SignedIn(token=token, person=person_view(session, claim))


@router.get("/citizens/me")
def me(claim: CurrentPerson, session: SessionDep) -> PersonView:
    """Who the person token names (masked), and their companions."""
    return person_view(session, claim)


@router.get("/citizens/me/personal-code")
def personal_code(claim: CurrentPerson, request: Request, session: SessionDep) -> PersonalCode:
    """A personal code (个人码) for a sentinel to scan; it expires within minutes."""
    token, expires = get_identities(request).personal_code(
        session=session, person_key=claim.person_key
    )
    return PersonalCode(token=token, expires_at=expires, svg=qr_svg(token))


@router.post("/citizens/me/companions", status_code=status.HTTP_201_CREATED)
def add_companion(
    body: CompanionCreate,
    claim: CurrentPerson,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> SignedIn:
    """Register a companion (an elderly parent, a child) to check in with you."""
    guardian = own_person(session, claim)
    details = service.read_details(
        doc_type=body.doc_type, doc_number=body.doc_number, name=body.name, phone=body.phone
    )
    service.add_companion(
        session=session,
        settings=settings,
        sealer=load_sealer(settings),
        guardian=guardian,
        details=details,
        relationship=body.relationship,
    )
    token = fresh_token(request, session, guardian)
    return SignedIn(token=token, person=person_view(session, claim))


@router.patch("/citizens/me/companions/{person_key}")
def update_companion(
    person_key: str,
    body: CompanionUpdate,
    claim: CurrentPerson,
    request: Request,
    session: SessionDep,
) -> SignedIn:
    """Say whether a companion is with you today (answers a token that carries it)."""
    guardian = own_person(session, claim)
    service.set_with_me(
        session=session, guardian=guardian, person_key=person_key, with_me=body.with_me
    )
    token = fresh_token(request, session, guardian)
    return SignedIn(token=token, person=person_view(session, claim))


@router.delete("/citizens/me/companions/{person_key}")
def remove_companion(
    person_key: str, claim: CurrentPerson, request: Request, session: SessionDep
) -> SignedIn:
    """Remove a companion."""
    guardian = own_person(session, claim)
    service.remove_companion(session=session, guardian=guardian, person_key=person_key)
    token = fresh_token(request, session, guardian)
    return SignedIn(token=token, person=person_view(session, claim))
