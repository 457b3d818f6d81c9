"""JSON API of the region's reference data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from placecode.accounts.authz import ALL_STAFF, requires
from placecode.accounts.models import Role
from placecode.accounts.principal import Principal
from placecode.region import service
from placecode.region.schemas import (
    CategoryView,
    DepartmentDetail,
    DepartmentView,
    RegionView,
    StreetView,
)
from placecode.web.deps import SessionDep

router = APIRouter(prefix="/api/v1/region", tags=["region"])

Staff = Annotated[Principal, requires(*ALL_STAFF)]


@router.get("")
def region(principal: Staff, session: SessionDep) -> RegionView:
    """Describe the region this instance serves."""
    return RegionView.model_validate(service.get_region(session=session))


@router.get("/streets")
def streets(principal: Staff, session: SessionDep) -> list[StreetView]:
    """List the streets and towns."""
    return [StreetView.model_validate(s) for s in service.list_streets(session=session)]


@router.get("/streets/{code}")
def street(
    code: str,
    principal: Annotated[
        Principal,
        requires(Role.district_admin, Role.cdc_analyst, Role.street_admin, street="code"),
    ],
    session: SessionDep,
) -> StreetView:
    """Show one street or town (a street admin sees only their own)."""
    return StreetView.model_validate(service.get_street(session=session, code=code))


@router.get("/departments")
def departments(principal: Staff, session: SessionDep) -> list[DepartmentView]:
    """List the departments responsible for venue categories."""
    return [DepartmentView.model_validate(d) for d in service.list_departments(session=session)]


@router.get("/departments/{code}")
def department(
    code: str,
    principal: Annotated[
        Principal,
        requires(Role.district_admin, Role.cdc_analyst, Role.regulator, department="code"),
    ],
    session: SessionDep,
) -> DepartmentDetail:
    """Show one department with the categories it is responsible for (a regulator: their own)."""
    found = service.get_department(session=session, code=code)
    categories = service.list_categories(session=session, department=found.code)
    return DepartmentDetail(
        code=found.code,
        name_zh=found.name_zh,
        name_en=found.name_en,
        categories=[CategoryView.model_validate(c) for c in categories],
    )


@router.get("/categories")
def categories(principal: Staff, session: SessionDep) -> list[CategoryView]:
    """List venue categories with department, dwell minutes and entry policy."""
    return [CategoryView.model_validate(c) for c in service.list_categories(session=session)]
