"""CDC files in: cases, NAT results and vaccinations, row by row, idempotent, audited."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from placecode.accounts.models import AuditEntry
from placecode.clock import clock
from placecode.config import Settings
from placecode.health.models import HealthEvent, HealthProfile, NatTest, Vaccination
from placecode.people.documents import id_check_digit
from placecode.people.models import Person
from placecode.people.sealing import load_unsealer
from placecode.people.service import person_key_of, read_details
from tests.conftest import Persona

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2022, 3, 24, 15, 0, tzinfo=SHANGHAI)


def valid_id(first17: str) -> str:
    return first17 + id_check_digit(first17)


ZHANG = valid_id("31010719800101001")
LI = valid_id("31010719850202002")
WANG = valid_id("31010719900303003")


def key_of(settings: Settings, doc_number: str) -> str:
    return person_key_of(settings, read_details(doc_type="id_card", doc_number=doc_number).document)


@pytest.fixture(autouse=True)
def _march_2022(client: TestClient) -> None:
    clock.freeze(NOW)


def upload(client: TestClient, analyst: Persona, kind: str, content: str | bytes, **form: str):  # type: ignore[no-untyped-def]
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        f"/api/v1/health/imports/{kind}",
        files={"file": (f"{kind}.csv", data, "text/csv")},
        data=form,
        headers=analyst.auth,
    )


CASES = f"""doc_type,doc_number,name,phone,category,occurred_at,case_id
id_card,{ZHANG},张三明,13800000001,confirmed,2022-03-22 10:00,SH-0001
id_card,{LI},李四,13800000002,密接,2022-03-23 08:30,SH-0001
id_card,{WANG},,,exposure,2022-03-24 09:00,
id_card,{WANG},,,quarantined,2022-03-24 09:00,
id_card,{LI},,,close_contact,2022-04-01 00:00,
id_card,310107198001010010,,,confirmed,2022-03-22 10:00,
"""


def test_a_case_list_is_imported_with_a_report_and_twice_adds_nothing(
    client: TestClient, session: Session, settings: Settings, cdc_analyst: Persona
) -> None:
    first = upload(client, cdc_analyst, "cases", CASES)
    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["rows"], report["accepted"], report["unchanged"], report["rejected"]) == (
        6,
        3,
        0,
        3,
    )
    problems = {p["row"]: p for p in report["problems"]}
    assert problems[5]["field"] == "category"
    assert "quarantined" in problems[5]["reason"]
    assert problems[6]["field"] == "occurred_at"
    assert "future" in problems[6]["reason"]
    assert problems[7]["field"] == "doc_number"
    assert "check digit" in problems[7]["reason"]

    again = upload(client, cdc_analyst, "cases", CASES).json()
    assert (again["accepted"], again["unchanged"], again["rejected"]) == (0, 3, 3)
    assert session.scalar(select(func.count()).select_from(HealthEvent)) == 3

    # The people named are registered, sealed, and masked for display.
    key = key_of(settings, ZHANG)
    person = session.scalars(select(Person).where(Person.person_key == key)).one()
    assert person.name_masked == "张*明"
    assert ZHANG.encode() not in person.sealed
    identity = load_unsealer(settings).unseal(person.sealed, key.encode())
    assert (identity.name, identity.doc_number) == ("张三明", ZHANG)
    profile = session.get_one(HealthProfile, person.id)
    assert profile.watched is True

    audit = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "health.import.cases")
    ).all()
    assert [entry.detail["accepted"] for entry in audit] == [3, 0]  # type: ignore[index]
    assert {entry.actor for entry in audit} == {cdc_analyst.user.username}


def test_a_dry_run_checks_every_row_and_writes_nothing(
    client: TestClient, session: Session, cdc_analyst: Persona
) -> None:
    report = upload(client, cdc_analyst, "cases", CASES, dry_run="true").json()
    assert (report["accepted"], report["rejected"], report["dry_run"]) == (3, 3, True)
    assert session.scalar(select(func.count()).select_from(HealthEvent)) == 0


NATS = f"""doc_type,doc_number,sampled_at,result,institution
id_card,{ZHANG},2022-03-23 09:00,阳性,普陀区中心医院
id_card,{LI},2022-03-24 07:30,negative,同济大学附属同济医院
id_card,{WANG},2022-03-24 11:00,pending,社区采样点
id_card,{WANG},2022-03-24 11:00,pending,社区采样点
id_card,{LI},2022-03-24 07:30,maybe,
id_card,{LI},2022-03-25 07:30,negative,
passport,E1234567,2022-03-24T08:00:00+08:00,negative,
"""


def test_nat_results_are_imported_and_a_pending_result_is_completed_later(
    client: TestClient, session: Session, cdc_analyst: Persona
) -> None:
    report = upload(client, cdc_analyst, "nat", NATS).json()
    assert (report["rows"], report["accepted"], report["unchanged"], report["rejected"]) == (
        7,
        4,
        1,  # the same sample twice in one file
        2,
    )
    assert {p["row"]: p["field"] for p in report["problems"]} == {6: "result", 7: "sampled_at"}

    later = f"""doc_type,doc_number,sampled_at,result,institution
id_card,{WANG},2022-03-24 11:00,negative,社区采样点
id_card,{LI},2022-03-24 07:30,positive,
id_card,{ZHANG},2022-03-24 12:00,pending,
id_card,{ZHANG},2022-03-24 12:00,negative,
"""
    report = upload(client, cdc_analyst, "nat", later).json()
    assert (report["accepted"], report["unchanged"], report["rejected"]) == (3, 0, 1)
    assert "already recorded as negative" in report["problems"][0]["reason"]
    results = sorted(session.scalars(select(NatTest.result)).all())
    assert results == ["negative", "negative", "negative", "negative", "positive"]


VACCINATIONS = f"""doc_type,doc_number,dose,vaccinated_at,product
id_card,{ZHANG},1,2021-04-01,北京科兴 CoronaVac
id_card,{ZHANG},2,2021-05-01,北京科兴 CoronaVac
id_card,{ZHANG},3,2021-11-20,北京科兴 CoronaVac
id_card,{LI},1,2021-06-01,康希诺
id_card,{WANG},exempt,2021-06-01,
id_card,{WANG},seven,2021-06-01,科兴
id_card,{WANG},2,2021-06-01,
id_card,{ZHANG},2,2021-05-02,北京科兴 CoronaVac
"""


def test_vaccinations_are_imported_and_give_each_person_a_state(
    client: TestClient, session: Session, settings: Settings, cdc_analyst: Persona
) -> None:
    report = upload(client, cdc_analyst, "vaccinations", VACCINATIONS).json()
    assert (report["accepted"], report["unchanged"], report["rejected"]) == (5, 0, 3)
    reasons = {p["row"]: p for p in report["problems"]}
    assert reasons[7]["field"] == "dose"
    assert reasons[8]["field"] == "product"
    assert "already recorded" in reasons[9]["reason"]
    states = dict(
        session.execute(select(HealthProfile.person_key, HealthProfile.vaccination)).all()
    )
    assert states == {
        key_of(settings, ZHANG): "booster_complete",
        key_of(settings, LI): "primary_complete",  # CanSino's course is one dose
        key_of(settings, WANG): "not_suitable",
    }
    assert session.scalar(select(func.count()).select_from(Vaccination)) == 5
    again = upload(client, cdc_analyst, "vaccinations", VACCINATIONS).json()
    assert (again["accepted"], again["unchanged"]) == (0, 5)


def test_a_file_in_gb18030_is_read(client: TestClient, cdc_analyst: Persona) -> None:
    content = CASES.encode("gb18030")
    report = upload(client, cdc_analyst, "cases", content).json()
    assert report["accepted"] == 3


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "empty_file"),
        (b"doc_type,doc_number\nid_card,1\n", "missing_columns"),
        (b"\xff\xfe\x00garbage\x81\x30", "unreadable_file"),
    ],
)
def test_an_unreadable_file_is_one_clear_error_and_changes_nothing(
    client: TestClient, session: Session, cdc_analyst: Persona, content: bytes, code: str
) -> None:
    response = upload(client, cdc_analyst, "nat", content)
    assert response.status_code == 422
    assert response.json()["error"] == code
    assert session.scalar(select(func.count()).select_from(NatTest)) == 0


def test_only_cdc_analysts_import_health_records(
    client: TestClient, district_admin: Persona
) -> None:
    response = upload(client, district_admin, "cases", CASES)
    assert response.status_code == 403


def test_an_unknown_kind_of_import_is_refused(client: TestClient, cdc_analyst: Persona) -> None:
    assert upload(client, cdc_analyst, "rumours", CASES).status_code == 422


def test_a_cdc_analyst_records_one_event_and_it_is_audited(
    client: TestClient, session: Session, cdc_analyst: Persona
) -> None:
    body = {
        "doc_type": "id_card",
        "doc_number": LI,
        "kind": "risk_area",
        "occurred_at": "2022-03-24 08:00",
        "note": "Arrived from a medium-risk area",
    }
    response = client.post("/api/v1/health/events", json=body, headers=cdc_analyst.auth)
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == "risk_area"
    twice = client.post("/api/v1/health/events", json=body, headers=cdc_analyst.auth)
    assert twice.status_code == 409
    future = client.post(
        "/api/v1/health/events",
        json=body | {"occurred_at": "2022-03-30 08:00"},
        headers=cdc_analyst.auth,
    )
    assert future.status_code == 422
    assert "future" in future.json()["message"]
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "health.event")).all()
    assert len(audit) == 1
