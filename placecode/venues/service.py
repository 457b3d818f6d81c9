"""Organisations and their verification, delegated registration, the venue register."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from placecode import changes
from placecode.accounts import service as accounts
from placecode.accounts.models import Role
from placecode.accounts.principal import Principal, scope_clause
from placecode.clock import clock
from placecode.config import Settings
from placecode.db import in_chunks
from placecode.errors import Conflict, Forbidden, InvalidInput, NotFound, PlaceCodeError
from placecode.i18n import _
from placecode.region import service as region
from placecode.region.models import Category, EntryPolicy, Street
from placecode.tables import ImportReport, RowProblem, read_table
from placecode.venues import certificates
from placecode.venues.codes import VENUES_COUNTER
from placecode.venues.models import (
    MANAGING_KINDS,
    STATUS_LABELS,
    CertificateChallenge,
    Organisation,
    OrganisationKind,
    Venue,
    VenueEvent,
    VenueStatus,
)
from placecode.venues.schemas import VenueCreate, VenueUpdate
from placecode.venues.uscc import normalise_uscc

VENUE_ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: read aloud at a door
VENUE_ID_LENGTH = 10  # about 49 bits: not guessable, short enough to type
IMPORT_COLUMNS = ("name", "address", "street", "category", "lon", "lat", "operator_name")


def field_error(field: str, message: str, code: str = "invalid_input") -> InvalidInput:
    """A refusal that names the field at fault (import reports show it per row)."""
    return InvalidInput(message, code=code, details={"field": field})


# --- organisations -------------------------------------------------------------------------


def new_organisation_id() -> str:
    return "org_" + secrets.token_hex(6)


def get_organisation(*, session: Session, organisation_id: str) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound(
            _("There is no organisation {id!r}.").format(id=organisation_id),
            code="unknown_organisation",
        )
    return organisation


def organisation_exists(*, session: Session, organisation_id: str) -> bool:
    return session.get(Organisation, organisation_id) is not None


def visible_organisation(
    *, session: Session, principal: Principal, organisation_id: str
) -> Organisation:
    organisation = get_organisation(session=session, organisation_id=organisation_id)
    principal.ensure_covers(street=organisation.street_code, organisation=organisation.id)
    return organisation


def list_organisations(
    *, session: Session, principal: Principal, limit: int = 100, offset: int = 0
) -> tuple[list[Organisation], int]:
    where = scope_clause(principal, street=Organisation.street_code, organisation=Organisation.id)
    total = session.scalar(select(func.count()).select_from(Organisation).where(where)) or 0
    items = session.scalars(
        select(Organisation).where(where).order_by(Organisation.name).limit(limit).offset(offset)
    )
    return list(items), total


def create_organisation(
    *,
    session: Session,
    principal: Principal,
    name: str,
    kind: OrganisationKind,
    uscc: str,
    street_code: str | None = None,
) -> Organisation:
    """Record an organisation (unverified until it proves itself with its certificate)."""
    code = normalise_uscc(uscc)
    if street_code is not None:
        region.get_street(session=session, code=street_code)
    if principal.role is Role.street_admin:
        street_code = street_code or principal.scope
        principal.ensure_covers(street=street_code)
    existing = session.scalars(select(Organisation).where(Organisation.uscc == code)).first()
    if existing is not None:
        raise Conflict(
            _("{code} is already registered as {name} ({id}).").format(
                code=code, name=existing.name, id=existing.id
            ),
            code="organisation_exists",
        )
    organisation = Organisation(
        id=new_organisation_id(),
        name=name.strip(),
        kind=kind.value,
        uscc=code,
        street_code=street_code,
        created_at=clock.now(),
        created_by=principal.username,
    )
    session.add(organisation)
    session.flush()
    accounts.record_audit(
        session=session,
        actor=principal,
        action="organisation.create",
        target=organisation.id,
        detail={"uscc": code, "kind": kind.value},
    )
    return organisation


def new_challenge(
    *, session: Session, settings: Settings, certificate_pem: str
) -> tuple[CertificateChallenge, certificates.CheckedCertificate]:
    """Check a certificate and hand out a one-time text for its key to sign."""
    checked = certificates.check_certificate(
        pem=certificate_pem, roots=certificates.load_trust_store(settings), now=clock.now()
    )
    now = clock.now()
    challenge = CertificateChallenge(
        id="chl_" + secrets.token_hex(8),
        text=f"placecode-verify:{checked.uscc}:{secrets.token_urlsafe(24)}",
        certificate_sha256=checked.sha256,
        created_at=now,
        expires_at=now + timedelta(minutes=settings.certificate_challenge_minutes),
    )
    session.add(challenge)
    session.flush()
    return challenge, checked


def redeem_challenge(
    *,
    session: Session,
    settings: Settings,
    certificate_pem: str,
    challenge_id: str,
    signature: str,
) -> certificates.CheckedCertificate:
    """Check the certificate again and its proof of possession; a challenge works once."""
    checked = certificates.check_certificate(
        pem=certificate_pem, roots=certificates.load_trust_store(settings), now=clock.now()
    )
    challenge = session.get(CertificateChallenge, challenge_id)
    if challenge is None:
        raise certificates.CertificateRefused(
            _("Unknown challenge; ask for a new one."), code="challenge_unknown"
        )
    if challenge.used_at is not None:
        raise certificates.CertificateRefused(
            _("This challenge was used already; ask for a new one."), code="challenge_replayed"
        )
    if challenge.expires_at <= clock.now():
        raise certificates.CertificateRefused(
            _("This challenge has expired; ask for a new one."), code="challenge_expired"
        )
    if challenge.certificate_sha256 != checked.sha256:
        raise certificates.CertificateRefused(
            _("This challenge was issued for another certificate."), code="challenge_mismatch"
        )
    certificates.check_possession(checked, challenge.text, certificates.decode_signature(signature))
    challenge.used_at = clock.now()
    return checked


def _mark_verified(organisation: Organisation, checked: certificates.CheckedCertificate) -> None:
    organisation.verified_at = clock.now()
    organisation.certificate_sha256 = checked.sha256
    organisation.certificate_subject = checked.subject
    organisation.certificate_not_after = checked.not_after


def verify_organisation(
    *,
    session: Session,
    settings: Settings,
    principal: Principal,
    organisation_id: str,
    certificate_pem: str,
    challenge_id: str,
    signature: str,
) -> Organisation:
    """Prove an organisation with its certificate and a signed challenge."""
    organisation = visible_organisation(
        session=session, principal=principal, organisation_id=organisation_id
    )
    checked = redeem_challenge(
        session=session,
        settings=settings,
        certificate_pem=certificate_pem,
        challenge_id=challenge_id,
        signature=signature,
    )
    if checked.uscc != organisation.uscc:
        raise certificates.CertificateRefused(
            _("The certificate is for {cert}, but this organisation's code is {org}.").format(
                cert=checked.uscc, org=organisation.uscc
            ),
            code="certificate_wrong_uscc",
        )
    _mark_verified(organisation, checked)
    accounts.record_audit(
        session=session,
        actor=principal,
        action="organisation.verify",
        target=organisation.id,
        detail={"certificate": checked.subject},
    )
    return organisation


def apply_with_certificate(
    *,
    session: Session,
    settings: Settings,
    certificate_pem: str,
    challenge_id: str,
    signature: str,
    kind: OrganisationKind,
    street_code: str | None,
    username: str,
    password: str,
    display_name: str | None,
) -> tuple[Organisation, str]:
    """Self-service: a certificate holder registers its organisation and a manager account."""
    checked = redeem_challenge(
        session=session,
        settings=settings,
        certificate_pem=certificate_pem,
        challenge_id=challenge_id,
        signature=signature,
    )
    if street_code is not None:
        region.get_street(session=session, code=street_code)
    organisation = session.scalars(
        select(Organisation).where(Organisation.uscc == checked.uscc)
    ).first()
    if organisation is not None and organisation.verified_at is not None:
        raise Conflict(
            _(
                "{name} is registered and verified already; ask its venue manager for an account."
            ).format(name=organisation.name),
            code="organisation_exists",
        )
    applicant = accounts.Operator(username=f"certificate:{checked.uscc}")
    if organisation is None:
        organisation = Organisation(
            id=new_organisation_id(),
            name=checked.name,
            kind=kind.value,
            uscc=checked.uscc,
            street_code=street_code,
            created_at=clock.now(),
            created_by=applicant.username,
        )
        session.add(organisation)
        session.flush()
    _mark_verified(organisation, checked)
    user = accounts.create_user(
        session=session,
        settings=settings,
        actor=applicant,
        username=username,
        role=Role.venue_manager,
        scope=organisation.id,
        display_name=display_name or checked.name,
        password=password,
    )
    accounts.record_audit(
        session=session,
        actor=applicant,
        action="organisation.apply",
        target=organisation.id,
        detail={"certificate": checked.subject, "manager": user.username},
    )
    return organisation, user.username


# --- venues ------------------------------------------------------------------------------


def new_venue_id() -> str:
    return "".join(secrets.choice(VENUE_ID_ALPHABET) for _ in range(VENUE_ID_LENGTH))


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[\s\-_,，.。·()（）#号]+", "", text)


def natural_key(name: str, address: str) -> str:
    """The same place, however its name and address are spaced or punctuated."""
    joined = _normalise(name) + "|" + _normalise(address)
    return hashlib.sha256(joined.encode()).hexdigest()[:40]


def venue_scope(venue: Venue, department: str) -> dict[str, str | None]:
    return {
        "street": venue.street_code,
        "department": department,
        "organisation": venue.organisation_id,
        "venue": venue.id,
    }


def get_venue(*, session: Session, venue_id: str) -> Venue:
    venue = session.get(Venue, venue_id)
    if venue is None:
        raise NotFound(_("There is no venue {id!r}.").format(id=venue_id), code="unknown_venue")
    return venue


def venue_exists(*, session: Session, venue_id: str) -> bool:
    return session.get(Venue, venue_id) is not None


def visible_venue(*, session: Session, principal: Principal, venue_id: str) -> Venue:
    """A venue the principal's scope covers (403 for one outside it)."""
    venue = get_venue(session=session, venue_id=venue_id)
    category = region.get_category(session=session, code=venue.category_code)
    principal.ensure_covers(**venue_scope(venue, category.department_code))
    return venue


def effective_entry_policy(*, session: Session, venue: Venue) -> EntryPolicy:
    if venue.entry_policy:
        return EntryPolicy(venue.entry_policy)
    return EntryPolicy(region.get_category(session=session, code=venue.category_code).entry_policy)


def check_position(*, session: Session, lon: float | None, lat: float | None) -> None:
    """Coordinates must lie inside the district's bounds."""
    bounds = region.get_region(session=session)
    if lon is not None and not bounds.lon_min <= lon <= bounds.lon_max:
        raise field_error(
            "lon",
            _("Longitude {value} lies outside the district ({low} to {high}).").format(
                value=lon, low=bounds.lon_min, high=bounds.lon_max
            ),
        )
    if lat is not None and not bounds.lat_min <= lat <= bounds.lat_max:
        raise field_error(
            "lat",
            _("Latitude {value} lies outside the district ({low} to {high}).").format(
                value=lat, low=bounds.lat_min, high=bounds.lat_max
            ),
        )


@dataclass
class _Lookups:
    """Reference data by code and by Chinese name, read once per import."""

    streets: dict[str, Street]
    categories: dict[str, Category]

    @classmethod
    def load(cls, session: Session) -> _Lookups:
        streets, categories = {}, {}
        for street in region.list_streets(session=session):
            streets[street.code] = streets[street.name_zh] = street
        for category in region.list_categories(session=session):
            categories[category.code] = categories[category.name_zh] = category
        return cls(streets=streets, categories=categories)


def _prepare_venue(
    *,
    session: Session,
    principal: Principal,
    data: VenueCreate,
    lookups: _Lookups,
) -> Venue:
    """Check a registration against the rules and build (not add) the venue."""
    street = lookups.streets.get(data.street.strip())
    if street is None:
        raise field_error(
            "street", _("Unknown street or town {value!r}.").format(value=data.street)
        )
    category = lookups.categories.get(data.category.strip())
    if category is None:
        raise field_error(
            "category", _("Unknown venue category {value!r}.").format(value=data.category)
        )
    lon = data.lon if data.lon is not None else street.centroid_lon
    lat = data.lat if data.lat is not None else street.centroid_lat
    check_position(session=session, lon=lon, lat=lat)
    operator_name = (data.operator_name or "").strip() or None
    operator_uscc = normalise_uscc(data.operator_uscc) if data.operator_uscc else None

    organisation_id: str | None = None
    delegated = False
    vouched_by: str | None = None
    if principal.role is Role.venue_manager:
        assert principal.scope is not None
        organisation = get_organisation(session=session, organisation_id=principal.scope)
        if organisation.verified_at is None:
            raise Forbidden(
                _("Verify your organisation with its certificate before registering venues."),
                code="organisation_unverified",
            )
        organisation_id = organisation.id
        if operator_name and operator_name != organisation.name:
            if OrganisationKind(organisation.kind) not in MANAGING_KINDS:
                raise field_error(
                    "operator_name",
                    _(
                        "Only property managers, market operators and street offices register "
                        "venues on a shop's behalf."
                    ),
                    code="not_a_managing_organisation",
                )
            delegated, vouched_by = True, organisation.id
    elif principal.role is Role.street_admin:
        if not principal.covers(street=street.code):
            raise field_error(
                "street",
                _("You register venues of your own street or town only."),
                code="out_of_scope",
            )
        if not operator_name:
            raise field_error(
                "operator_name",
                _("Name the shop you register on behalf of."),
                code="operator_required",
            )
        delegated, vouched_by = True, f"user:{principal.username}"
    elif principal.role is Role.district_admin:
        if data.organisation_id:
            organisation_id = get_organisation(
                session=session, organisation_id=data.organisation_id
            ).id
        if operator_name:
            delegated, vouched_by = True, organisation_id or f"user:{principal.username}"
        elif organisation_id is None:
            raise field_error(
                "operator_name",
                _("Name the organisation that manages the venue, or the shop's own name."),
                code="operator_required",
            )
    else:  # the routes admit no other role; this keeps the rule in one place
        raise Forbidden(_("Your role may not register venues."), code="role_not_allowed")
    if data.organisation_id and principal.role is not Role.district_admin:
        raise field_error(
            "organisation_id",
            _("Only district admins choose the managing organisation."),
            code="role_not_allowed",
        )

    now = clock.now()
    return Venue(
        id=new_venue_id(),
        name=data.name.strip(),
        address=data.address.strip(),
        street_code=street.code,
        category_code=category.code,
        lon=lon,
        lat=lat,
        organisation_id=organisation_id,
        operator_name=operator_name,
        operator_uscc=operator_uscc,
        delegated=delegated,
        vouched_by=vouched_by,
        capacity=data.capacity,
        entry_policy=data.entry_policy.value if data.entry_policy else None,
        dwell_minutes=data.dwell_minutes,
        status=VenueStatus.active.value,
        code_version=1,
        natural_key=natural_key(data.name, data.address),
        registered_by=principal.username,
        created_at=now,
        updated_at=now,
    )


def _record(session: Session, venue: Venue, actor: str, action: str, **detail: Any) -> None:
    session.add(
        VenueEvent(
            venue_id=venue.id, at=clock.now(), actor=actor, action=action, detail=detail or None
        )
    )


def _existing_by_key(session: Session, keys: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in in_chunks(keys):
        for key, venue_id in session.execute(
            select(Venue.natural_key, Venue.id).where(Venue.natural_key.in_(chunk))
        ):
            found[key] = venue_id
    return found


def register_venue(*, session: Session, principal: Principal, data: VenueCreate) -> Venue:
    """Register a venue (on a shop's behalf when an operator name is given)."""
    venue = _prepare_venue(
        session=session, principal=principal, data=data, lookups=_Lookups.load(session)
    )
    existing = _existing_by_key(session, [venue.natural_key])
    if existing:
        raise Conflict(
            _("This venue is registered already as {id}.").format(id=existing[venue.natural_key]),
            code="venue_exists",
            details={"venue_id": existing[venue.natural_key]},
        )
    session.add(venue)
    session.flush()
    _record(
        session,
        venue,
        principal.username,
        "registered",
        delegated=venue.delegated,
        vouched_by=venue.vouched_by,
        operator_name=venue.operator_name,
    )
    return venue


def import_venues(
    *,
    session: Session,
    principal: Principal,
    filename: str,
    content: bytes,
    dry_run: bool = False,
) -> ImportReport:
    """Register venues from a CSV or .xlsx file; bad rows are listed, good rows kept together,
    rows already registered (or repeated in the file) change nothing."""
    rows = read_table(filename=filename, content=content, columns=IMPORT_COLUMNS)
    lookups = _Lookups.load(session)
    problems: list[RowProblem] = []
    prepared: list[tuple[int, Venue]] = []
    for row in rows:
        values: dict[str, Any] = {key: value for key, value in row.values.items() if value}
        try:
            for number_field in ("lon", "lat"):
                if number_field in values:
                    try:
                        values[number_field] = float(values[number_field])
                    except ValueError:
                        raise field_error(
                            number_field,
                            _("{value!r} is not a number.").format(value=values[number_field]),
                        ) from None
            data = VenueCreate.model_validate(values)
            venue = _prepare_venue(session=session, principal=principal, data=data, lookups=lookups)
        except ValidationError as exc:
            for error in exc.errors():
                field = ".".join(str(part) for part in error["loc"]) or "row"
                problems.append(RowProblem(row=row.number, field=field, reason=error["msg"]))
            continue
        except PlaceCodeError as exc:
            field = exc.details.get("field", "row") if isinstance(exc.details, dict) else "row"
            problems.append(RowProblem(row=row.number, field=field, reason=exc.message))
            continue
        prepared.append((row.number, venue))

    existing = _existing_by_key(session, [venue.natural_key for _number, venue in prepared])
    seen: dict[str, int] = {}
    accepted: list[Venue] = []
    unchanged = 0
    for number, venue in prepared:
        if venue.natural_key in existing or venue.natural_key in seen:
            unchanged += 1
            continue
        seen[venue.natural_key] = number
        accepted.append(venue)
    if not dry_run and accepted:
        session.add_all(accepted)
        session.flush()
        for venue in accepted:
            _record(session, venue, principal.username, "registered", imported_from=filename[:120])
    return ImportReport(
        rows=len(rows),
        accepted=len(accepted),
        unchanged=unchanged,
        rejected=len({problem.row for problem in problems}),
        problems=problems,
        dry_run=dry_run,
    )


def list_venues(
    *,
    session: Session,
    principal: Principal,
    q: str | None = None,
    street: str | None = None,
    category: str | None = None,
    status: VenueStatus | None = None,
    organisation: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Venue], int]:
    """Venues in the principal's scope, newest first, filtered and paged."""
    conditions: list[ColumnElement[bool]] = [
        scope_clause(
            principal,
            street=Venue.street_code,
            department=Category.department_code,
            organisation=Venue.organisation_id,
            venue=Venue.id,
        )
    ]
    if q:
        pattern = f"%{q.strip()}%"
        conditions.append(
            or_(Venue.name.like(pattern), Venue.address.like(pattern), Venue.id == q.strip())
        )
    if street:
        conditions.append(Venue.street_code == street)
    if category:
        conditions.append(Venue.category_code == category)
    if status:
        conditions.append(Venue.status == status.value)
    if organisation:
        conditions.append(Venue.organisation_id == organisation)
    base = select(Venue).join(Category, Category.code == Venue.category_code).where(*conditions)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    items = session.scalars(
        base.order_by(Venue.created_at.desc(), Venue.id).limit(limit).offset(offset)
    )
    return list(items), total


def update_venue(
    *, session: Session, principal: Principal, venue_id: str, changes_in: VenueUpdate
) -> Venue:
    """Correct a venue's details (its code stays valid)."""
    venue = visible_venue(session=session, principal=principal, venue_id=venue_id)
    if venue.status == VenueStatus.revoked:
        raise Conflict(_("A revoked venue cannot be changed."), code="venue_revoked")
    updates = changes_in.model_dump(exclude_unset=True)
    for field in ("name", "address", "lon", "lat"):
        if field in updates and updates[field] is None:
            raise field_error(field, _("{field} cannot be empty.").format(field=field))
    check_position(session=session, lon=updates.get("lon"), lat=updates.get("lat"))
    if updates.get("operator_uscc"):
        updates["operator_uscc"] = normalise_uscc(updates["operator_uscc"])
    if updates.get("entry_policy") is not None:
        updates["entry_policy"] = EntryPolicy(updates["entry_policy"]).value
    for field, value in updates.items():
        setattr(venue, field, value.strip() if isinstance(value, str) else value)
    key = natural_key(venue.name, venue.address)
    if key != venue.natural_key:
        clash = _existing_by_key(session, [key])
        if clash:
            raise Conflict(
                _("Another venue is registered with this name and address ({id}).").format(
                    id=clash[key]
                ),
                code="venue_exists",
            )
        venue.natural_key = key
    venue.updated_at = clock.now()
    _record(session, venue, principal.username, "updated", fields=sorted(updates))
    changes.bump(session=session, name=VENUES_COUNTER)
    return venue


# action: (statuses it starts from, status it leads to)
TRANSITIONS = {
    "suspend": ({VenueStatus.active}, VenueStatus.suspended),
    "resume": ({VenueStatus.suspended}, VenueStatus.active),
    "revoke": ({VenueStatus.active, VenueStatus.suspended}, VenueStatus.revoked),
}


def change_status(
    *, session: Session, principal: Principal, venue_id: str, action: str, reason: str = ""
) -> Venue:
    """Suspend (and resume) a venue's code, or revoke it for good."""
    venue = visible_venue(session=session, principal=principal, venue_id=venue_id)
    allowed_from, target = TRANSITIONS[action]
    if VenueStatus(venue.status) not in allowed_from:
        raise Conflict(
            _("This venue is {status}; it cannot be {target}.").format(
                status=_(STATUS_LABELS[VenueStatus(venue.status)]),
                target=_(STATUS_LABELS[target]),
            ),
            code="bad_transition",
        )
    venue.status = target.value
    venue.updated_at = clock.now()
    _record(session, venue, principal.username, action, reason=reason or None)
    changes.bump(session=session, name=VENUES_COUNTER)
    return venue


def reissue_code(*, session: Session, principal: Principal, venue_id: str) -> Venue:
    """Issue a new code: printed copies of the old one stop working."""
    venue = visible_venue(session=session, principal=principal, venue_id=venue_id)
    if venue.status == VenueStatus.revoked:
        raise Conflict(_("A revoked venue gets no new code."), code="venue_revoked")
    venue.code_version += 1
    venue.updated_at = clock.now()
    _record(session, venue, principal.username, "code_reissued", version=venue.code_version)
    changes.bump(session=session, name=VENUES_COUNTER)
    return venue


def take_over(*, session: Session, principal: Principal, venue_id: str) -> Venue:
    """A shop that has since verified its own certificate takes over its delegated venue."""
    venue = get_venue(session=session, venue_id=venue_id)
    if principal.role is not Role.venue_manager or principal.scope is None:
        raise Forbidden(_("Only a venue manager takes a venue over."), code="role_not_allowed")
    organisation = get_organisation(session=session, organisation_id=principal.scope)
    if organisation.verified_at is None:
        raise Forbidden(
            _("Verify your organisation with its certificate first."),
            code="organisation_unverified",
        )
    if not venue.delegated or venue.organisation_id == organisation.id:
        raise Conflict(_("This venue is not held on anyone else's behalf."), code="not_delegated")
    if venue.operator_uscc is None:
        raise Conflict(
            _(
                "Whoever registered this venue did not record the shop's credit code; ask them to "
                "add it, then take it over."
            ),
            code="operator_uscc_missing",
        )
    if venue.operator_uscc != organisation.uscc:
        raise Forbidden(
            _("This venue was registered for another organisation's credit code."),
            code="not_the_operator",
        )
    previous = {"organisation_id": venue.organisation_id, "vouched_by": venue.vouched_by}
    venue.organisation_id = organisation.id
    venue.delegated = False
    venue.vouched_by = None
    venue.operator_name = organisation.name
    venue.updated_at = clock.now()
    _record(session, venue, principal.username, "taken_over", previous=previous)
    changes.bump(session=session, name=VENUES_COUNTER)
    return venue


def venue_history(*, session: Session, venue_id: str) -> list[VenueEvent]:
    return list(
        session.scalars(
            select(VenueEvent).where(VenueEvent.venue_id == venue_id).order_by(VenueEvent.id)
        )
    )


def organisation_venues(*, session: Session, organisation_id: str) -> list[Venue]:
    return list(
        session.scalars(
            select(Venue)
            .where(
                Venue.organisation_id == organisation_id, Venue.status != VenueStatus.revoked.value
            )
            .order_by(Venue.name)
        )
    )
