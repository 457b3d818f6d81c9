"""Region reference data: loaded from the packaged file, every bad value refused whole."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from placecode.errors import InvalidInput
from placecode.region import service
from placecode.region.models import Category, Department, Street
from tests.conftest import count


@pytest.fixture
def putuo() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(service.packaged_region_path().read_text(encoding="utf-8"))
    return data


def test_the_packaged_file_describes_putuo_district(session: Session) -> None:
    region = service.get_region(session=session)
    assert (region.code, region.name_zh) == ("310107", "普陀区")
    assert count(session, Street) == 10
    assert count(session, Department) == 11
    assert count(session, Category) == 18
    changfeng = service.get_street(session=session, code="changfengxincun")
    assert changfeng.name_zh == "长风新村街道"
    market = service.get_category(session=session, code="wet_market")
    assert (market.department_code, market.dwell_minutes, market.entry_policy) == (
        "commerce",
        45,
        "green_nat48",
    )


def test_the_packaged_file_matches_the_shared_reference_copy() -> None:
    shared = Path(__file__).resolve().parents[3] / "shared" / "data" / "putuo.json"
    if shared.exists():  # outside this workspace the packaged copy stands alone
        assert json.loads(shared.read_text()) == json.loads(
            service.packaged_region_path().read_text()
        )
    assert service.packaged_region_path().is_file()


def test_loading_the_same_file_again_changes_nothing(
    session: Session, putuo: dict[str, Any]
) -> None:
    summary = service.load_region(session=session, data=service.check_region_data(putuo))
    assert (summary.streets, summary.departments, summary.categories) == (10, 11, 18)
    assert count(session, Street) == 10


def test_a_corrected_name_is_updated(session: Session, putuo: dict[str, Any]) -> None:
    putuo["streets"][0]["name_en"] = "Changshou Road"
    service.load_region(session=session, data=service.check_region_data(putuo))
    assert service.get_street(session=session, code="changshoulu").name_en == "Changshou Road"


def broken(putuo: dict[str, Any], change: str) -> dict[str, Any]:
    data = copy.deepcopy(putuo)
    if change == "unknown department":
        data["categories"][0]["department"] = "ministry_of_magic"
    elif change == "duplicate street":
        data["streets"].append(copy.deepcopy(data["streets"][0]))
        data["streets"][-1]["pop_share"] = 0.0001
    elif change == "duplicate category":
        data["categories"].append(copy.deepcopy(data["categories"][0]))
    elif change == "shares":
        data["streets"][0]["pop_share"] += 0.05
    elif change == "entry policy":
        data["categories"][1]["entry_policy"] = "green_nat24"
    elif change == "centroid":
        data["streets"][2]["centroid"] = [120.0, 30.0]
    elif change == "dwell":
        data["categories"][0]["dwell_minutes"] = 0
    elif change == "code":
        data["streets"][0]["code"] = "长寿路"
    elif change == "timezone":
        data["region"]["timezone"] = "Asia/Nowhere"
    return data


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("unknown department", "unknown department 'ministry_of_magic'"),
        ("duplicate street", "duplicate street code 'changshoulu'"),
        ("duplicate category", "duplicate category code 'large_supermarket'"),
        ("shares", "shares sum to 1.0500, not 1"),
        ("entry policy", "unknown entry policy 'green_nat24'"),
        ("centroid", "centroid lies outside the region's bounds"),
        ("dwell", "dwell_minutes"),
        ("code", "streets.0.code"),
        ("timezone", "unknown time zone 'Asia/Nowhere'"),
    ],
)
def test_a_bad_file_is_refused_with_its_reason_and_nothing_is_loaded(
    session: Session, putuo: dict[str, Any], change: str, reason: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        service.check_region_data(broken(putuo, change))
    assert reason in refused.value.message
    assert count(session, Street) == 10
    assert (
        service.get_category(session=session, code="large_supermarket").department_code
        == "commerce"
    )


def test_a_file_that_drops_a_street_in_use_is_refused(
    session: Session, putuo: dict[str, Any]
) -> None:
    dropped = copy.deepcopy(putuo)
    taopu = dropped["streets"].pop()
    dropped["streets"][-1]["pop_share"] += taopu["pop_share"]
    with pytest.raises(InvalidInput, match="leaves out codes that are already in use: taopu"):
        service.load_region(session=session, data=service.check_region_data(dropped))
    assert service.get_street(session=session, code="taopu").name_zh == "桃浦镇"


def test_another_region_cannot_be_loaded_over_this_one(
    session: Session, putuo: dict[str, Any]
) -> None:
    other = copy.deepcopy(putuo)
    other["region"]["code"] = "310104"
    with pytest.raises(InvalidInput, match="serves region 310107"):
        service.load_region(session=session, data=service.check_region_data(other))


def test_an_unreadable_file_gets_one_clear_error(tmp_path: Path) -> None:
    garbage = tmp_path / "region.json"
    garbage.write_bytes(b"\xff\xfe not json")
    with pytest.raises(InvalidInput, match="is not a UTF-8 JSON file"):
        service.read_region_file(garbage)
    with pytest.raises(InvalidInput, match="No such file"):
        service.read_region_file(tmp_path / "missing.json")
