"""Why a code has its colour, and corrections (纠错): a citizen asks, the CDC answers, the
citizen sees the outcome; every CDC change is audited. Through the API and the pages."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from placecode.accounts.models import AuditEntry
from placecode.clock import clock
from tests.accounts.test_pages import csrf_of, sign_in
from tests.checkins.test_pages import citizen_signs_in_on_the_page
from tests.conftest import Persona, sign_in_citizen

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2022, 3, 24, 15, 0, tzinfo=SHANGHAI)
WANG = "11010519491231002X"  # the citizen that sign_in_citizen signs in
EXPOSURE = (
    "doc_type,doc_number,name,phone,category,occurred_at,case_id\n"
    f"id_card,{WANG},王秀英,,exposure,2022-03-24 09:00,SH-7\n"
)


@pytest.fixture(autouse=True)
def _march_2022(client: TestClient) -> None:
    clock.freeze(NOW)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def import_cases(client: TestClient, analyst: Persona, content: str = EXPOSURE) -> None:
    response = client.post(
        "/api/v1/health/imports/cases",
        files={"file": ("cases.csv", content.encode(), "text/csv")},
        headers=analyst.auth,
    )
    assert response.json()["accepted"] == 1, response.text


def test_a_citizen_sees_why_files_a_correction_and_sees_the_cdc_clear_it(
    client: TestClient, session: Session, cdc_analyst: Persona
) -> None:
    token = sign_in_citizen(client)
    assert client.get("/api/v1/citizens/me/status", headers=bearer(token)).json()["colour"] == (
        "green"
    )
    import_cases(client, cdc_analyst)
    status = client.get("/api/v1/citizens/me/status", headers=bearer(token)).json()
    assert status["colour"] == "yellow"
    (reason,) = status["reasons"]
    assert reason["kind"] == "exposure"
    assert reason["since"] == "2022-03-24T01:00:00Z"
    assert status["until"] == "2022-03-31T01:00:00Z"
    assert "At a venue with a case on 2022-03-24 09:00" in reason["text"]

    filed = client.post(
        "/api/v1/citizens/me/corrections",
        json={"reason": "I was at home all day; my building's guard can confirm."},
        headers=bearer(token),
    )
    assert filed.status_code == 201, filed.text
    assert (filed.json()["state"], filed.json()["colour"]) == ("open", "yellow")
    again = client.post(
        "/api/v1/citizens/me/corrections", json={"reason": "Please hurry."}, headers=bearer(token)
    )
    assert again.status_code == 409
    too_short = client.post(
        "/api/v1/citizens/me/corrections", json={"reason": "no"}, headers=bearer(token)
    )
    assert too_short.status_code == 422

    queue = client.get("/api/v1/health/corrections", headers=cdc_analyst.auth).json()
    (item,) = queue
    assert (item["name_masked"], item["doc_masked"]) == ("王*英", "1101**********002X")
    assert "王秀英" not in str(queue)
    resolved = client.post(
        f"/api/v1/health/corrections/{item['id']}/resolve",
        json={"outcome": "cleared", "note": "Checked the venue's log: not there."},
        headers=cdc_analyst.auth,
    )
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["state"], resolved.json()["resolved_by"]) == ("cleared", "cora")
    twice = client.post(
        f"/api/v1/health/corrections/{item['id']}/resolve",
        json={"outcome": "kept", "note": "Changed my mind."},
        headers=cdc_analyst.auth,
    )
    assert twice.status_code == 409
    assert client.get("/api/v1/health/corrections", headers=cdc_analyst.auth).json() == []

    status = client.get("/api/v1/citizens/me/status", headers=bearer(token)).json()
    assert (status["colour"], status["reasons"]) == ("green", [])
    (mine,) = client.get("/api/v1/citizens/me/corrections", headers=bearer(token)).json()
    assert (mine["state"], mine["resolution"]) == ("cleared", "Checked the venue's log: not there.")
    assert mine["resolved_by"] is None  # the citizen is not told which analyst

    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.action.like("health.%")).order_by(AuditEntry.id)
    ).all()
    assert actions == ["health.import.cases", "health.event", "health.correction.cleared"]


def test_a_kept_correction_leaves_the_colour(
    client: TestClient, session: Session, cdc_analyst: Persona
) -> None:
    token = sign_in_citizen(client)
    import_cases(client, cdc_analyst)
    client.post(
        "/api/v1/citizens/me/corrections",
        json={"reason": "I only walked past the market."},
        headers=bearer(token),
    )
    (item,) = client.get("/api/v1/health/corrections", headers=cdc_analyst.auth).json()
    kept = client.post(
        f"/api/v1/health/corrections/{item['id']}/resolve",
        json={"outcome": "kept", "note": "Your phone scanned the market's code at 09:00."},
        headers=cdc_analyst.auth,
    )
    assert kept.json()["state"] == "kept"
    assert client.get("/api/v1/citizens/me/status", headers=bearer(token)).json()["colour"] == (
        "yellow"
    )
    answered = client.get(
        "/api/v1/health/corrections", params={"state": "kept"}, headers=cdc_analyst.auth
    ).json()
    assert [a["resolved_by"] for a in answered] == ["cora"]


def test_only_cdc_analysts_answer_corrections(
    client: TestClient, street_admin: Persona, cdc_analyst: Persona
) -> None:
    assert client.get("/api/v1/health/corrections", headers=street_admin.auth).status_code == 403
    missing = client.post(
        "/api/v1/health/corrections/999/resolve",
        json={"outcome": "kept", "note": "x" * 5},
        headers=cdc_analyst.auth,
    )
    assert missing.status_code == 404
    bad = client.post(
        "/api/v1/health/corrections/1/resolve",
        json={"outcome": "delete", "note": "x" * 5},
        headers=cdc_analyst.auth,
    )
    assert bad.status_code == 422


def test_a_cdc_analyst_finds_a_person_and_reads_their_history_masked(
    client: TestClient, cdc_analyst: Persona
) -> None:
    import_cases(client, cdc_analyst)
    client.post(
        "/api/v1/health/imports/nat",
        files={
            "file": (
                "nat.csv",
                f"doc_type,doc_number,sampled_at,result,institution\n"
                f"id_card,{WANG},2022-03-24 11:00,negative,普陀区中心医院\n".encode(),
            )
        },
        headers=cdc_analyst.auth,
    )
    found = client.post(
        "/api/v1/health/people/lookup",
        json={"doc_type": "id_card", "doc_number": WANG},
        headers=cdc_analyst.auth,
    ).json()
    assert found["registered"] is True
    view = client.get(
        f"/api/v1/health/people/{found['person_key']}", headers=cdc_analyst.auth
    ).json()
    assert (view["name_masked"], view["status"]["colour"]) == ("王*英", "green")
    assert [(p["since"], p["colour"]) for p in view["history"]] == [
        ("2022-03-24T03:00:00Z", "green"),
        ("2022-03-24T01:00:00Z", "yellow"),
    ]
    assert view["nat_results"][0]["institution"] == "普陀区中心医院"
    assert WANG not in str(view)
    unknown = client.get(f"/api/v1/health/people/{'0' * 32}", headers=cdc_analyst.auth)
    assert unknown.status_code == 404


# --- pages -------------------------------------------------------------------------------


def test_the_why_page_and_the_correction_queue_work_through_their_forms(
    client: TestClient, cdc_analyst: Persona
) -> None:
    import_cases(client, cdc_analyst)
    citizen_signs_in_on_the_page(client)
    why = client.get("/me/health")
    assert why.status_code == 200
    assert 'data-colour="yellow"' in why.text
    assert "黄码" in why.text
    assert "2022-03-31 09:00" in why.text  # until when
    filed = client.post(
        "/me/health/corrections",
        data={"csrf_token": csrf_of(why.text), "reason": "我那天一直在家。"},
        follow_redirects=False,
    )
    assert filed.status_code == 303
    waiting = client.get("/me/health")
    assert "等待疾控" in waiting.text  # the request is waiting
    assert 'name="reason"' not in waiting.text  # one open request at a time

    assert sign_in(client, "cora").status_code == 303  # type: ignore[attr-defined]
    queue = client.get("/health/corrections")
    assert "王*英" in queue.text and "我那天一直在家。" in queue.text
    action = re.search(r'action="(/health/corrections/\d+)"', queue.text)
    assert action
    empty_note = client.post(
        action.group(1), data={"csrf_token": csrf_of(queue.text), "outcome": "cleared", "note": ""}
    )
    assert empty_note.status_code == 422
    done = client.post(
        action.group(1),
        data={
            "csrf_token": csrf_of(queue.text),
            "outcome": "cleared",
            "note": "核实无误，已解除。",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "没有待处理" in client.get("/health/corrections").text

    after = client.get("/me/health")
    assert 'data-colour="green"' in after.text
    assert "核实无误，已解除。" in after.text


def test_a_citizen_not_signed_in_is_sent_to_the_citizen_sign_in(client: TestClient) -> None:
    response = client.get("/me/health", headers={"Accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/me/login?next=/me/health"


def test_the_import_page_shows_its_report(client: TestClient, cdc_analyst: Persona) -> None:
    sign_in(client, "cora")
    form = client.get("/health/imports")
    assert form.status_code == 200
    content = EXPOSURE + "id_card,123,x,,exposure,2022-03-24 09:00,\n"
    page = client.post(
        "/health/imports",
        data={"csrf_token": csrf_of(form.text), "kind": "cases"},
        files={"file": ("cases.csv", content.encode(), "text/csv")},
    )
    assert page.status_code == 200
    assert re.search(r'data-testid="accepted">1<', page.text)
    assert re.search(r'data-testid="rejected">1<', page.text)
    wrong_kind = client.post(
        "/health/imports",
        data={"csrf_token": csrf_of(form.text), "kind": "rumours"},
        files={"file": ("cases.csv", content.encode(), "text/csv")},
    )
    assert wrong_kind.status_code == 422


def test_a_cdc_analyst_looks_a_person_up_on_the_page(
    client: TestClient, cdc_analyst: Persona
) -> None:
    import_cases(client, cdc_analyst)
    sign_in(client, "cora")
    form = client.get("/health/people")
    found = client.post(
        "/health/people",
        data={"csrf_token": csrf_of(form.text), "doc_type": "id_card", "doc_number": WANG},
        follow_redirects=False,
    )
    assert found.status_code == 303
    person = client.get(found.headers["location"])
    assert person.status_code == 200
    assert "王*英" in person.text and WANG not in person.text
    assert 'data-testid="history"' in person.text
    recorded = client.post(
        found.headers["location"] + "/events",
        data={
            "csrf_token": csrf_of(person.text),
            "kind": "close_contact",
            "occurred_at": "2022-03-24 14:00",
            "note": "同楼层确诊病例",
        },
        follow_redirects=False,
    )
    assert recorded.status_code == 303
    now_red = client.get(found.headers["location"])
    assert 'data-colour="red"' in now_red.text and "同楼层确诊病例" in now_red.text
    future = client.post(
        found.headers["location"] + "/events",
        data={"csrf_token": csrf_of(person.text), "kind": "cleared", "occurred_at": "2023-01-01"},
    )
    assert future.status_code == 422
    assert "未来" in future.text or "future" in future.text
    nobody = client.post(
        "/health/people",
        data={"csrf_token": csrf_of(form.text), "doc_type": "passport", "doc_number": "E9999999"},
    )
    assert nobody.status_code == 422
