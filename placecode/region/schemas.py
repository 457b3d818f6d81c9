"""The region reference file (putuo.json and its kind) and the API's views of it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from placecode.region.models import EntryPolicy

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=120, strip_whitespace=True)]


class _FileModel(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class BoundsIn(_FileModel):
    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float


class RegionIn(_FileModel):
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
    name_zh: Name
    name_en: Name
    city_zh: Name
    timezone: Name
    population: int = Field(gt=0)
    bounds: BoundsIn


class StreetIn(_FileModel):
    code: Code
    name_zh: Name
    name_en: Name
    kind: Literal["subdistrict", "town"]
    pop_share: float = Field(gt=0, le=1)
    centroid: Annotated[list[float], Field(min_length=2, max_length=2)]


class DepartmentIn(_FileModel):
    code: Code
    name_zh: Name
    name_en: Name


class CategoryIn(_FileModel):
    code: Code
    name_zh: Name
    name_en: Name
    department: Code
    dwell_minutes: int = Field(gt=0, le=1440)
    entry_policy: str


class RegionFile(_FileModel):
    """The whole reference file, as read before its cross-checks."""

    region: RegionIn
    streets: list[StreetIn] = Field(min_length=1)
    departments: list[DepartmentIn] = Field(min_length=1)
    categories: list[CategoryIn] = Field(min_length=1)
    entry_policies: dict[str, str] = Field(default_factory=dict)


class LoadSummary(BaseModel):
    region: str
    streets: int
    departments: int
    categories: int


# --- API views ----------------------------------------------------------------


class _View(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class RegionView(_View):
    code: str
    name_zh: str
    name_en: str
    city_zh: str
    timezone: str
    population: int
    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float


class StreetView(_View):
    code: str
    name_zh: str
    name_en: str
    kind: str
    pop_share: float
    centroid_lon: float
    centroid_lat: float


class DepartmentView(_View):
    code: str
    name_zh: str
    name_en: str


class CategoryView(_View):
    code: str
    name_zh: str
    name_en: str
    department_code: str
    dwell_minutes: int
    entry_policy: EntryPolicy


class DepartmentDetail(DepartmentView):
    categories: list[CategoryView]
