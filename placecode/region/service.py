"""Load and read the region's reference data."""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from placecode.errors import InvalidInput, NotFound
from placecode.i18n import _
from placecode.region.models import Category, Department, EntryPolicy, Region, Street
from placecode.region.schemas import LoadSummary, RegionFile

SHARE_TOLERANCE = 1e-3


def packaged_region_path() -> Path:
    """The reference file shipped with PlaceCode (Shanghai Putuo district)."""
    return Path(str(resources.files("placecode.region") / "putuo.json"))


def read_region_file(path: Path) -> RegionFile:
    """Read and check a reference file; every problem is listed, nothing is loaded."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InvalidInput(_("No such file: {path}").format(path=path)) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(
            _("{path} is not a UTF-8 JSON file: {reason}").format(path=path, reason=exc)
        ) from None
    return check_region_data(raw)


def check_region_data(raw: Any) -> RegionFile:
    """Validate reference data, field by field and across fields."""
    try:
        data = RegionFile.model_validate(raw)
    except ValidationError as exc:
        field_problems = [
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        ]
        raise InvalidInput(
            _("The region file is not valid: {problems}").format(
                problems="; ".join(field_problems)
            ),
            details=field_problems,
        ) from None

    problems: list[str] = []
    for kind, codes in (
        ("street", [s.code for s in data.streets]),
        ("department", [d.code for d in data.departments]),
        ("category", [c.code for c in data.categories]),
    ):
        for code, count in Counter(codes).items():
            if count > 1:
                problems.append(_("duplicate {kind} code {code!r}").format(kind=kind, code=code))

    share_sum = sum(street.pop_share for street in data.streets)
    if abs(share_sum - 1.0) > SHARE_TOLERANCE:
        problems.append(
            _("street population shares sum to {total:.4f}, not 1").format(total=share_sum)
        )

    bounds = data.region.bounds
    if not (bounds.lon_min < bounds.lon_max and bounds.lat_min < bounds.lat_max):
        problems.append(_("region bounds are empty (min must be below max)"))
    for street in data.streets:
        lon, lat = street.centroid
        if not (
            bounds.lon_min <= lon <= bounds.lon_max and bounds.lat_min <= lat <= bounds.lat_max
        ):
            problems.append(
                _("street {code!r}: centroid lies outside the region's bounds").format(
                    code=street.code
                )
            )

    try:
        ZoneInfo(data.region.timezone)
    except (KeyError, ValueError):
        problems.append(_("unknown time zone {zone!r}").format(zone=data.region.timezone))

    known_policies = {policy.value for policy in EntryPolicy}
    for name in data.entry_policies:
        if name not in known_policies:
            problems.append(_("unknown entry policy {name!r}").format(name=name))
    departments = {department.code for department in data.departments}
    for category in data.categories:
        if category.department not in departments:
            problems.append(
                _("category {code!r}: unknown department {department!r}").format(
                    code=category.code, department=category.department
                )
            )
        if category.entry_policy not in known_policies:
            problems.append(
                _("category {code!r}: unknown entry policy {policy!r}").format(
                    code=category.code, policy=category.entry_policy
                )
            )

    if problems:
        raise InvalidInput(
            _("The region file is not valid: {problems}").format(problems="; ".join(problems)),
            details=problems,
        )
    return data


def load_region(*, session: Session, data: RegionFile) -> LoadSummary:
    """Write checked reference data: insert new rows, update known ones, remove none."""
    existing_region = session.scalars(select(Region)).first()
    if existing_region is not None and existing_region.code != data.region.code:
        raise InvalidInput(
            _(
                "This database serves region {current}; it cannot load region {new}. "
                "Each region runs its own instance."
            ).format(current=existing_region.code, new=data.region.code)
        )

    missing = []
    for model, incoming in (
        (Street, {s.code for s in data.streets}),
        (Department, {d.code for d in data.departments}),
        (Category, {c.code for c in data.categories}),
    ):
        stored = set(session.scalars(select(model.code)))
        missing += sorted(stored - incoming)
    if missing:
        raise InvalidInput(
            _(
                "The file leaves out codes that are already in use: {codes}. "
                "Reference data is only added to or corrected, never removed."
            ).format(codes=", ".join(missing))
        )

    bounds = data.region.bounds
    session.merge(
        Region(
            code=data.region.code,
            name_zh=data.region.name_zh,
            name_en=data.region.name_en,
            city_zh=data.region.city_zh,
            timezone=data.region.timezone,
            population=data.region.population,
            lon_min=bounds.lon_min,
            lon_max=bounds.lon_max,
            lat_min=bounds.lat_min,
            lat_max=bounds.lat_max,
        )
    )
    for street in data.streets:
        session.merge(
            Street(
                code=street.code,
                name_zh=street.name_zh,
                name_en=street.name_en,
                kind=street.kind,
                pop_share=street.pop_share,
                centroid_lon=street.centroid[0],
                centroid_lat=street.centroid[1],
            )
        )
    for department in data.departments:
        session.merge(
            Department(code=department.code, name_zh=department.name_zh, name_en=department.name_en)
        )
    session.flush()
    for category in data.categories:
        session.merge(
            Category(
                code=category.code,
                name_zh=category.name_zh,
                name_en=category.name_en,
                department_code=category.department,
                dwell_minutes=category.dwell_minutes,
                entry_policy=category.entry_policy,
            )
        )
    session.flush()
    return LoadSummary(
        region=data.region.code,
        streets=len(data.streets),
        departments=len(data.departments),
        categories=len(data.categories),
    )


def get_region(*, session: Session) -> Region:
    region = session.scalars(select(Region)).first()
    if region is None:
        raise NotFound(
            _("No region is loaded yet; run `placecode region load`."), code="region_not_loaded"
        )
    return region


def is_loaded(*, session: Session) -> bool:
    return session.scalars(select(Region.code)).first() is not None


def list_streets(*, session: Session) -> list[Street]:
    return list(session.scalars(select(Street).order_by(Street.code)))


def get_street(*, session: Session, code: str) -> Street:
    street = session.get(Street, code)
    if street is None:
        raise NotFound(_("There is no street or town with code {code!r}.").format(code=code))
    return street


def list_departments(*, session: Session) -> list[Department]:
    return list(session.scalars(select(Department).order_by(Department.code)))


def get_department(*, session: Session, code: str) -> Department:
    department = session.get(Department, code)
    if department is None:
        raise NotFound(_("There is no department with code {code!r}.").format(code=code))
    return department


def list_categories(*, session: Session, department: str | None = None) -> list[Category]:
    query = select(Category).order_by(Category.code)
    if department is not None:
        query = query.where(Category.department_code == department)
    return list(session.scalars(query))


def get_category(*, session: Session, code: str) -> Category:
    category = session.get(Category, code)
    if category is None:
        raise NotFound(_("There is no venue category with code {code!r}.").format(code=code))
    return category
