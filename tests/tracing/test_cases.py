"""Tracing cases through the API: a case traced from the scan log; confirmation turns the
contacts' codes red and yellow on their next scan, withdrawal turns them back, both
audited; re-identification needs a CDC analyst, a purpose and the key, and is audited per
person; exports neutralise formulas; the console page and the audit page."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from placecode.accounts.models import AuditEntry, Role
from placecode.accounts.service import Operator
from placecode.clock import clock
from placecode.config import Settings
from placecode.errors import Forbidden, InvalidInput
from placecode.tracing import service as tracing
from placecode.venues.models import Venue
from tests.accounts.test_pages import csrf_of, sign_in
from tests.checkins.test_scan import code_of, scan
from tests.conftest import Persona, sign_in_citizen

SHANGHAI = ZoneInfo("Asia/Shanghai")
PEOPLE = {  # passport number → name
    "index": ("E10000001", "Index Case"),
    "close": ("E10000002", "Close Contact"),
    "brief": ("E10000003", "Brief Visitor"),
    "later": ("E10000004", "=HYPERLINK(1)"),  # a name a spreadsheet must not run
}


def at(hour: int, minute: int = 0) -> None:
    clock.freeze(datetime(2022, 3, 20, hour, minute, tzinfo=SHANGHAI))


@pytest.fixture
def scans(client: TestClient, venue_manager: Persona, zhennan_market: Venue) -> dict[str, str]:
    """At the market (visits last 45 minutes): the index at 08:00, a close contact at 08:05
    (40 minutes together), a brief visitor at 08:40 (5 minutes), someone at 09:00 (none);
    person tokens by role."""
    at(7)
    code = code_of(client, venue_manager, zhennan_market)
    tokens = {}
    for role, (number, name) in PEOPLE.items():
        tokens[role] = sign_in_citizen(client, doc_number=number, name=name, doc_type="passport")
    for role, (hour, minute) in {
        "index": (8, 0),
        "close": (8, 5),
        "brief": (8, 40),
        "later": (9, 0),
    }.items():
        at(hour, minute)
        assert scan(client, tokens[role], code).status_code == 201
    tokens["code"] = code
    return tokens


def colour(client: TestClient, token: str, code: str) -> str:
    answer = scan(client, token, code)
    assert answer.status_code in (200, 201), answer.text
    return str(answer.json()["people"][0]["colour"])


def open_case(client: TestClient, analyst: Persona) -> dict:  # type: ignore[type-arg]
    # The CDC confirmed the index case at 09:30; the window ends there.
    at(9, 45)
    answer = client.post(
        "/api/v1/health/events",
        json={
            "doc_type": "passport",
            "doc_number": PEOPLE["index"][0],
            "kind": "confirmed",
            "occurred_at": "2022-03-20 09:30",
        },
        headers=analyst.auth,
    )
    assert answer.status_code == 201, answer.text
    at(11)
    answer = client.post(
        "/api/v1/tracing/cases",
        json={
            "title": "真南 market case",
            "people": [{"doc_type": "passport", "doc_number": PEOPLE["index"][0]}],
        },
        headers=analyst.auth,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_a_case_finds_its_contacts_and_confirmation_colours_their_next_scan(
    client: TestClient, session: Session, cdc_analyst: Persona, scans: dict[str, str]
) -> None:
    case = open_case(client, cdc_analyst)
    (trajectory,) = case["trajectories"]
    assert [v["venue_name"] for v in trajectory["visits"]] == ["真南农副产品综合市场"]
    found = {c["name_masked"]: (c["finding"], c["overlap_minutes"]) for c in case["contacts"]}
    assert found == {"C**** C******": ("close_contact", 40.0), "B**** V******": ("exposure", 5.0)}
    # Still green: nothing is applied before an analyst confirms.
    assert colour(client, scans["close"], scans["code"]) == "green"
    confirmed = client.post(f"/api/v1/tracing/cases/{case['id']}/confirm", headers=cdc_analyst.auth)
    assert confirmed.json() == {"events_added": 2}
    at(11, 30)
    assert colour(client, scans["close"], scans["code"]) == "red"
    assert colour(client, scans["brief"], scans["code"]) == "yellow"
    assert colour(client, scans["later"], scans["code"]) == "green"
    # Confirming twice is refused; the circuit breaker needs a reason.
    again = client.post(f"/api/v1/tracing/cases/{case['id']}/confirm", headers=cdc_analyst.auth)
    assert again.status_code == 409
    empty = client.post(
        f"/api/v1/tracing/cases/{case['id']}/withdraw",
        json={"reason": " "},
        headers=cdc_analyst.auth,
    )
    assert empty.status_code == 422
    withdrawn = client.post(
        f"/api/v1/tracing/cases/{case['id']}/withdraw",
        json={"reason": "The index case's result was a false positive."},
        headers=cdc_analyst.auth,
    )
    assert withdrawn.json() == {"events_withdrawn": 2}
    at(12)
    assert colour(client, scans["close"], scans["code"]) == "green"
    assert colour(client, scans["brief"], scans["code"]) == "green"
    actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.target == case["id"])))
    assert {"tracing.open", "tracing.confirm", "tracing.withdraw"} <= actions
    listed = client.get("/api/v1/tracing/cases", headers=cdc_analyst.auth).json()
    assert listed[0]["status"] == "withdrawn"


def test_times_without_an_offset_are_shanghai_time(
    client: TestClient, cdc_analyst: Persona, scans: dict[str, str]
) -> None:
    at(11)
    answer = client.post(
        "/api/v1/tracing/trace",
        json={
            "people": [
                {
                    "doc_type": "passport",
                    "doc_number": PEOPLE["index"][0],
                    "since": "2022-03-20T07:00",
                    "until": "2022-03-20T08:10",
                }
            ],
            "degree": 1,
        },
        headers=cdc_analyst.auth,
    )
    assert answer.status_code == 200, answer.text
    (trajectory,) = answer.json()["trajectories"]
    assert trajectory["since"].startswith("2022-03-19T23:00:00")  # 07:00 in Shanghai, in UTC
    # Until 08:10 the index met only the close contact (for 5 minutes, so an exposure).
    assert [(c["name_masked"], c["overlap_minutes"]) for c in answer.json()["contacts"]] == [
        ("C**** C******", 5.0)
    ]


def test_bad_requests_get_clear_errors(
    client: TestClient, cdc_analyst: Persona, scans: dict[str, str]
) -> None:
    for body, status in (
        ({}, 422),  # nobody to trace
        ({"people": [{"since": "2022-03-20"}]}, 422),  # neither key nor document
        ({"people": [{"person_key": "0" * 32}]}, 404),
        ({"venues": [{"venue_id": "nowhere", "starts_at": "x", "ends_at": "y"}]}, 422),
        (
            {
                "people": [
                    {
                        "doc_type": "passport",
                        "doc_number": PEOPLE["index"][0],
                        "since": "2022-03-20 10:00",
                        "until": "2022-03-20 09:00",
                    }
                ]
            },
            422,
        ),
        ({"people": [], "degree": 3}, 422),
    ):
        answer = client.post("/api/v1/tracing/cases", json=body, headers=cdc_analyst.auth)
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["message"]
    assert (
        client.get(
            "/api/v1/tracing/cases/tc_0000000000000000", headers=cdc_analyst.auth
        ).status_code
        == 404
    )


def test_risky_venue_windows_list_every_visitor_as_exposed(
    client: TestClient, cdc_analyst: Persona, scans: dict[str, str], zhennan_market: Venue
) -> None:
    at(11)
    answer = client.post(
        "/api/v1/tracing/cases",
        json={
            "venues": [
                {
                    "venue_id": zhennan_market.id,
                    "starts_at": "2022-03-20 08:50",
                    "ends_at": "2022-03-20 09:10",
                }
            ]
        },
        headers=cdc_analyst.auth,
    )
    assert answer.status_code == 201, answer.text
    found = {c["name_masked"]: c["finding"] for c in answer.json()["contacts"]}
    # At the market between 08:50 and 09:10: the brief visitor (until 09:25) and the one who
    # came at 09:00; not the close contact (until 08:50: touching is not overlapping), not
    # the index case (until 08:45).
    assert found == {"B**** V******": "exposure", "=************": "exposure"}
    # Someone checked in late (a logbook entered afterwards): tracing again finds them and
    # says what changed.
    at(9, 5)
    token = sign_in_citizen(client, doc_number="E10000009", name="Late Entry", doc_type="passport")
    assert scan(client, token, scans["code"]).status_code == 201
    at(11, 30)
    case_id = answer.json()["id"]
    again = client.post(f"/api/v1/tracing/cases/{case_id}/run", headers=cdc_analyst.auth)
    assert again.status_code == 200, again.text
    assert again.json()["rerun"] == {"added": 1, "gone": 0, "changed": 0}
    assert again.json()["contacts_total"] == 3


def test_reidentification_needs_a_cdc_analyst_a_purpose_and_the_key(
    client: TestClient,
    session: Session,
    settings: Settings,
    cdc_analyst: Persona,
    personas: dict[Role, Persona],
    scans: dict[str, str],
    tmp_path: Path,
) -> None:
    district_admin = personas[Role.district_admin]
    case = open_case(client, cdc_analyst)
    keys = [c["person_key"] for c in case["contacts"]]
    url = f"/api/v1/tracing/cases/{case['id']}/reidentify"
    refused = client.post(url, json={"person_keys": keys, "purpose": ""}, headers=cdc_analyst.auth)
    assert refused.status_code == 422 and "purpose" in refused.json()["message"]
    for role, persona in personas.items():
        if role is Role.cdc_analyst:
            continue
        forbidden = client.post(
            url, json={"person_keys": keys, "purpose": "Call them"}, headers=persona.auth
        )
        assert forbidden.status_code == 403, role
    assert not session.scalar(select(func.count()).where(AuditEntry.action == "person.reidentify"))
    shown = client.post(
        url,
        json={"person_keys": keys, "purpose": "Call the contacts for isolation"},
        headers=cdc_analyst.auth,
    )
    assert shown.status_code == 200, shown.text
    assert {p["name"] for p in shown.json()} == {"Close Contact", "Brief Visitor"}
    assert {p["doc_number"] for p in shown.json()} == {"E10000002", "E10000003"}
    audited = session.execute(
        select(AuditEntry.target, AuditEntry.purpose, AuditEntry.actor).where(
            AuditEntry.action == "person.reidentify"
        )
    ).all()
    assert sorted(audited) == sorted(
        (key, "Call the contacts for isolation", "cora") for key in keys
    )
    page = client.get("/api/v1/tracing/reidentifications", headers=district_admin.auth).json()
    assert {entry["person_key"] for entry in page} == set(keys)
    assert {entry["case_id"] for entry in page} == {case["id"]}
    # Without the authority's private key there is no re-identification at all.
    keyless = settings.model_copy(update={"authority_private_key": tmp_path / "absent.pem"})
    with pytest.raises(InvalidInput, match="private key"):
        tracing.reidentify(
            session=session,
            settings=keyless,
            actor=cdc_analyst.user,
            person_keys=keys,
            purpose="Call the contacts",
        )
    with pytest.raises(Forbidden):
        tracing.reidentify(
            session=session,
            settings=settings,
            actor=Operator(username="ops", role="district_admin"),
            person_keys=keys,
            purpose="Call the contacts",
        )


def test_exports_mask_by_default_and_neutralise_formulas(
    client: TestClient, cdc_analyst: Persona, scans: dict[str, str], zhennan_market: Venue
) -> None:
    at(11)
    case = client.post(
        "/api/v1/tracing/cases",
        json={
            "venues": [
                {
                    "venue_id": zhennan_market.id,
                    "starts_at": "2022-03-20 07:00",
                    "ends_at": "2022-03-20 10:00",
                }
            ]
        },
        headers=cdc_analyst.auth,
    ).json()
    plain = client.get(f"/api/v1/tracing/cases/{case['id']}/export", headers=cdc_analyst.auth)
    assert plain.status_code == 200
    rows = list(csv.DictReader(io.StringIO(plain.content.decode("utf-8-sig"))))
    assert "doc_number" not in rows[0]
    assert all("*" in row["doc_masked"] for row in rows)
    identified = client.post(
        f"/api/v1/tracing/cases/{case['id']}/export?format=xlsx",
        json={
            "person_keys": [c["person_key"] for c in case["contacts"]],
            "purpose": "Export for the street's isolation team",
        },
        headers=cdc_analyst.auth,
    )
    assert identified.status_code == 200, identified.text
    sheet = load_workbook(io.BytesIO(identified.content)).active
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    names = [row[header.index("name")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert "'=HYPERLINK(1)" in names  # as text, never a formula
    assert "Close Contact" in names


def test_the_console_and_audit_pages_render(
    client: TestClient, cdc_analyst: Persona, scans: dict[str, str]
) -> None:
    case = open_case(client, cdc_analyst)
    page = client.get(f"/tracing/cases/{case['id']}", headers=cdc_analyst.auth)
    assert page.status_code == 200
    assert "真南农副产品综合市场" in page.text and 'data-testid="cluster"' in page.text
    filtered = client.get(
        f"/tracing/cases/{case['id']}?finding=exposure&sort=first", headers=cdc_analyst.auth
    )
    table = filtered.text.split('data-testid="contacts"')[1].split("</table>")[0]
    assert "B**** V******" in table and "C**** C******" not in table
    assert client.get("/tracing", headers=cdc_analyst.auth).status_code == 200
    assert client.get("/tracing/reidentifications", headers=cdc_analyst.auth).status_code == 200
    assert (
        client.get(f"/tracing/cases/{case['id']}?degree=7", headers=cdc_analyst.auth).status_code
        == 422
    )


def test_the_console_forms_open_confirm_withdraw_and_reidentify(
    client: TestClient, session: Session, cdc_analyst: Persona, scans: dict[str, str]
) -> None:
    open_case(client, cdc_analyst)  # records the index case's confirmation
    assert sign_in(client, "cora").status_code == 303  # type: ignore[attr-defined]
    form = client.get("/tracing")
    opened = client.post(
        "/tracing",
        data={
            "csrf_token": csrf_of(form.text),
            "title": "By the form",
            "doc_type": "passport",
            "doc_number": PEOPLE["index"][0],
            "degree": "2",
        },
        follow_redirects=False,
    )
    assert opened.status_code == 303, opened.text
    console = opened.headers["location"]
    page = client.get(console)
    assert "C**** C******" in page.text
    confirmed = client.post(
        f"{console}/confirm", data={"csrf_token": csrf_of(page.text)}, follow_redirects=True
    )
    assert 'data-testid="case-status">confirmed<' in confirmed.text
    at(11, 45)
    assert colour(client, scans["close"], scans["code"]) == "red"
    refused = client.post(
        f"{console}/reidentify",
        data={"csrf_token": csrf_of(confirmed.text), "purpose": "", "who": "close"},
    )
    assert refused.status_code == 422 and "purpose" in refused.text
    shown = client.post(
        f"{console}/reidentify",
        data={"csrf_token": csrf_of(confirmed.text), "purpose": "Isolation calls", "who": "all"},
    )
    assert shown.status_code == 200
    assert "Close Contact" in shown.text and "E10000002" in shown.text
    audit = client.get("/tracing/reidentifications")
    assert "Isolation calls" in audit.text and "cora" in audit.text
    withdrawn = client.post(
        f"{console}/withdraw",
        data={"csrf_token": csrf_of(shown.text), "reason": "Wrong index case"},
        follow_redirects=True,
    )
    assert 'data-testid="case-status">withdrawn<' in withdrawn.text
    at(12)
    assert colour(client, scans["close"], scans["code"]) == "green"
    # A form posted without its token is refused.
    assert client.post(f"{console}/confirm", data={}).status_code == 403
