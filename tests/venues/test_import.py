"""Bulk registration from a file: a row-by-row report, nothing half-written, no duplicates."""

import io

from openpyxl import Workbook
from starlette.testclient import TestClient

from tests.conftest import Persona

HEADER = "name,address,street,category,lon,lat,operator_name\n"
GOOD = (
    "家乐福长风店,长风路100号,changfengxincun,large_supermarket,121.398,31.222,家乐福\n"
    "长风菜场,长风路200号,长风新村街道,标准化菜场,,,长风菜场\n"
)
BAD = (
    "无街道店,某路1号,atlantis,shop,,,无街道店\n"
    "远方店,某路2号,changfengxincun,shop,120.0,31.22,远方店\n"
    ",某路3号,changfengxincun,shop,,,无名\n"
    "数字店,某路4号,changfengxincun,shop,east,31.22,数字店\n"
)


def upload(
    client: TestClient,
    persona: Persona,
    content: bytes,
    name: str = "venues.csv",
    dry_run: bool = False,
) -> dict:  # type: ignore[type-arg]
    response = client.post(
        "/api/v1/venues/import",
        files={"file": (name, content)},
        data={"dry_run": "true" if dry_run else "false"},
        headers=persona.auth,
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_good_rows_are_registered_and_bad_rows_reported(
    client: TestClient, district_admin: Persona
) -> None:
    report = upload(client, district_admin, (HEADER + GOOD + BAD).encode())
    assert (report["rows"], report["accepted"], report["unchanged"], report["rejected"]) == (
        6,
        2,
        0,
        4,
    )
    problems = {(p["row"], p["field"]) for p in report["problems"]}
    assert problems == {(4, "street"), (5, "lon"), (6, "name"), (7, "lon")}
    listed = client.get("/api/v1/venues?q=长风&limit=50", headers=district_admin.auth).json()
    assert {v["name"] for v in listed["items"]} >= {"家乐福长风店", "长风菜场"}


def test_importing_the_same_file_twice_adds_nothing(
    client: TestClient, district_admin: Persona
) -> None:
    content = (HEADER + GOOD).encode()
    assert upload(client, district_admin, content)["accepted"] == 2
    again = upload(client, district_admin, content)
    assert (again["accepted"], again["unchanged"], again["rejected"]) == (0, 2, 0)


def test_a_row_repeated_in_one_file_counts_once(
    client: TestClient, district_admin: Persona
) -> None:
    line = GOOD.splitlines()[0] + "\n"
    report = upload(client, district_admin, (HEADER + line + line).encode())
    assert (report["accepted"], report["unchanged"]) == (1, 1)


def test_excel_files_in_gb18030_and_xlsx_are_read(
    client: TestClient, district_admin: Persona
) -> None:
    assert upload(client, district_admin, (HEADER + GOOD).encode("gb18030"))["accepted"] == 2
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER.strip().split(","))
    sheet.append(
        ["桃浦便利店", "桃浦路9号", "taopu", "convenience_store", 121.36, 31.285, "桃浦便利店"]
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = upload(client, district_admin, buffer.getvalue(), "venues.xlsx")
    assert (report["accepted"], report["rejected"]) == (1, 0)


def test_a_dry_run_registers_nothing(client: TestClient, district_admin: Persona) -> None:
    report = upload(client, district_admin, (HEADER + GOOD).encode(), dry_run=True)
    assert (report["accepted"], report["dry_run"]) == (2, True)
    assert upload(client, district_admin, (HEADER + GOOD).encode())["accepted"] == 2


def test_a_street_admin_imports_only_their_street(
    client: TestClient, street_admin: Persona
) -> None:
    content = (HEADER + GOOD + "桃浦店,桃浦路1号,taopu,shop,,,桃浦店\n").encode()
    report = upload(client, street_admin, content)
    assert report["accepted"] == 2
    assert report["problems"] == [
        {
            "row": 4,
            "field": "street",
            "reason": "You register venues of your own street or town only.",
        }
    ]


def test_an_unreadable_file_is_one_clear_error(client: TestClient, district_admin: Persona) -> None:
    for content, code in (
        (b"", "empty_file"),
        (b"name,address\n", "missing_columns"),
        (b"\xff\xfe\xfa\x00garbage\x81\x82", "unreadable_file"),
        (b"PK\x03\x04not really a workbook", "unreadable_file"),
    ):
        response = client.post(
            "/api/v1/venues/import", files={"file": ("x.csv", content)}, headers=district_admin.auth
        )
        assert response.status_code == 422, content
        assert response.json()["error"] == code
