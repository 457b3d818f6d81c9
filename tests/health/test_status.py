"""The scan path's statuses: real colours, reasons, NAT, vaccination and decisions, read
from the in-memory book, which follows changes made anywhere."""

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from placecode.accounts.service import Operator
from placecode.clock import clock
from placecode.config import Settings
from placecode.health import book as book_module
from placecode.health import service
from placecode.health.book import StatusBook
from placecode.health.models import NatTest
from placecode.health.status import Colour, EventKind, NatResult
from placecode.people.documents import id_check_digit
from placecode.people.sealing import load_sealer
from placecode.people.service import person_key_of, read_details
from placecode.venues.models import Venue
from tests.checkins.test_durability import person_tokens, set_up_district
from tests.conftest import Databases, Persona, make_venue, running_server, sign_in_citizen

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2022, 3, 24, 15, 0, tzinfo=SHANGHAI)
PLACECODE = str(Path(sys.executable).parent / "placecode")


def valid_id(first17: str) -> str:
    return first17 + id_check_digit(first17)


PEOPLE = {
    "confirmed": ("31010719800101001", "张三明", "13800000001"),
    "contact": ("31010719850202002", "李四", "13800000002"),
    "exposed": ("31010719900303003", "王五", "13800000003"),
    "tested": ("31010719950404004", "赵六", "13800000004"),
}
IDS = {who: valid_id(first17) for who, (first17, _n, _p) in PEOPLE.items()}


def upload(client: TestClient, analyst: Persona, kind: str, content: str) -> dict[str, object]:
    response = client.post(
        f"/api/v1/health/imports/{kind}",
        files={"file": (f"{kind}.csv", content.encode(), "text/csv")},
        headers=analyst.auth,
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def scan_as(client: TestClient, who: str, code: str) -> dict[str, Any]:
    _first17, name, phone = PEOPLE[who]
    token = sign_in_citizen(client, doc_number=IDS[who], name=name, phone=phone)
    response = client.post(
        "/api/v1/checkins",
        json={"venue_code": code},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    person: dict[str, object] = response.json()["people"][0]
    return person


@pytest.fixture
def market_code(client: TestClient, venue_manager: Persona, zhennan_market: Venue) -> str:
    url: str = client.get(
        f"/api/v1/venues/{zhennan_market.id}/code", headers=venue_manager.auth
    ).json()["url"]
    return url


def test_each_kind_of_person_scans_and_sees_their_colour_reason_and_decision(
    client: TestClient, cdc_analyst: Persona, market_code: str
) -> None:
    clock.freeze(NOW)
    upload(
        client,
        cdc_analyst,
        "cases",
        "doc_type,doc_number,name,phone,category,occurred_at,case_id\n"
        f"id_card,{IDS['confirmed']},张三明,,confirmed,2022-03-22 10:00,SH-1\n"
        f"id_card,{IDS['contact']},李四,,close_contact,2022-03-23 08:30,SH-1\n"
        f"id_card,{IDS['exposed']},王五,,exposure,2022-03-24 09:00,SH-1\n",
    )
    upload(
        client,
        cdc_analyst,
        "nat",
        "doc_type,doc_number,sampled_at,result,institution\n"
        f"id_card,{IDS['tested']},2022-03-23 20:00,negative,社区采样点\n"
        f"id_card,{IDS['exposed']},2022-03-24 08:00,negative,社区采样点\n",
    )
    upload(
        client,
        cdc_analyst,
        "vaccinations",
        "doc_type,doc_number,dose,vaccinated_at,product\n"
        f"id_card,{IDS['tested']},1,2021-05-01,科兴\n"
        f"id_card,{IDS['tested']},2,2021-06-01,科兴\n",
    )

    confirmed = scan_as(client, "confirmed", market_code)
    assert confirmed["colour"] == "red"
    assert confirmed["until"] is None
    assert "Confirmed case since 2022-03-22 10:00" in confirmed["reasons"][0]
    assert confirmed["entry"]["allowed"] is False

    contact = scan_as(client, "contact", market_code)
    assert contact["colour"] == "red"
    assert contact["until"].startswith("2022-03-30T00:30")
    assert "quarantine until 2022-03-30 08:30" in contact["reasons"][0]

    exposed = scan_as(client, "exposed", market_code)
    assert exposed["colour"] == "yellow"  # the NAT was sampled before the exposure
    assert "negative NAT sampled after" in exposed["reasons"][0]
    assert "yellow" in exposed["entry"]["reason"]

    tested = scan_as(client, "tested", market_code)
    assert tested["colour"] == "green"
    assert tested["nat"] == {
        "sampled_at": "2022-03-23T12:00:00Z",
        "result": "negative",
        "hours_ago": 19.0,
    }
    assert tested["vaccination"] == "primary_complete"
    assert tested["entry"] == {
        "allowed": True,
        "reason": "Negative NAT sampled 19 h 0 min ago (within 48 hours).",
    }

    clock.freeze(NOW + timedelta(hours=30))  # 49 h after the sample
    later = scan_as(client, "tested", market_code)
    assert later["entry"]["allowed"] is False
    assert "49 h 0 min" in later["entry"]["reason"]


def test_a_negative_nat_after_an_exposure_turns_the_scan_green(
    client: TestClient, cdc_analyst: Persona, session: Session, street_admin: Persona
) -> None:
    clock.freeze(NOW)
    shop = make_venue(session, "长风便民店", "changfengxincun", "shop")
    code = client.get(f"/api/v1/venues/{shop.id}/code", headers=street_admin.auth).json()["url"]
    upload(
        client,
        cdc_analyst,
        "cases",
        "doc_type,doc_number,name,phone,category,occurred_at,case_id\n"
        f"id_card,{IDS['exposed']},王五,,exposure,2022-03-24 09:00,\n",
    )
    assert scan_as(client, "exposed", code)["colour"] == "yellow"
    upload(
        client,
        cdc_analyst,
        "nat",
        "doc_type,doc_number,sampled_at,result,institution\n"
        f"id_card,{IDS['exposed']},2022-03-24 12:00,negative,\n",
    )
    clock.freeze(NOW + timedelta(minutes=10))  # the repeated scan shows today's status
    again = scan_as(client, "exposed", code)
    assert again["colour"] == "green"
    assert again["entry"]["allowed"] is True


# --- the book itself -----------------------------------------------------------------------


def record(
    session: Session, settings: Settings, doc_number: str, kind: EventKind, at: datetime
) -> str:
    details = read_details(doc_type="passport", doc_number=doc_number)
    service.record_event(
        session=session,
        settings=settings,
        sealer=load_sealer(settings),
        actor=Operator(),
        details=details,
        kind=kind,
        occurred_at=at,
    )
    return person_key_of(settings, details.document)


def test_the_book_loads_everyone_then_only_what_changed(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.freeze(NOW)
    contacts = [
        record(session, settings, f"E{i:07d}", EventKind.close_contact, NOW - timedelta(days=1))
        for i in range(5)
    ]
    nats = "doc_type,doc_number,sampled_at,result,institution\n" + "".join(
        f"passport,G{i:07d},2022-03-24 08:00,negative,\n" for i in range(20)
    )
    service.import_health_file(
        session=session,
        settings=settings,
        sealer=load_sealer(settings),
        actor=Operator(),
        kind=service.ImportKind.nat,
        filename="nat.csv",
        content=nats.encode(),
    )
    book = StatusBook(settings)
    assert book.sync(session) is True  # the first look loads everything
    assert book.size == 25
    assert all(book.status(key, NOW).colour is Colour.red for key in contacts)
    tested = person_key_of(
        settings, read_details(doc_type="passport", doc_number="G0000003").document
    )
    status = book.status(tested, NOW)
    assert (status.colour, status.nat.result) == (Colour.green, NatResult.negative)  # type: ignore[union-attr]
    assert status.nat.sampled_at == datetime(2022, 3, 24, 8, 0, tzinfo=SHANGHAI)  # type: ignore[union-attr]
    assert book.status("0" * 32, NOW).nat is None  # nobody: green, no records
    assert book.status(tested, NOW - timedelta(days=1)).nat is None  # not sampled yet then

    monkeypatch.setattr(book_module, "OVERLAY_MAX", 3)  # fold the overlay into the arrays soon
    cleared = contacts[:2]
    for doc in ("E0000000", "E0000001"):
        record(session, settings, doc, EventKind.cleared, NOW)
    record(session, settings, "G0000003", EventKind.exposure, NOW - timedelta(hours=1))
    for i in range(20, 24):
        record(session, settings, f"G{i:07d}", EventKind.cleared, NOW - timedelta(days=3))
    assert book.sync(session) is True
    assert book.sync(session) is False  # nothing new
    assert [book.status(key, NOW).colour for key in contacts] == [
        Colour.green,
        Colour.green,
        Colour.red,
        Colour.red,
        Colour.red,
    ]
    assert book.status(cleared[0], NOW - timedelta(minutes=1)).colour is Colour.red
    exposed = book.status(tested, NOW)  # the NAT was sampled before the exposure
    assert (exposed.colour, exposed.nat) == (Colour.yellow, status.nat)
    assert book.size == 29


def test_a_worker_sees_a_change_made_by_another_process_within_two_seconds(
    databases: Databases, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(database_url=databases.new_url(), cache_poll_seconds=1.0)
    with running_server(settings) as server:
        code, issuer = set_up_district(server.database, settings)
        (token,) = person_tokens(issuer, 1)  # passport L00000000
        now = clock.now()
        with server.database.session() as session:
            record(session, settings, "L00000000", EventKind.exposure, now - timedelta(hours=2))
        time.sleep(settings.cache_poll_seconds + 0.1)  # the new issuer and venue are seen

        def colour() -> str:
            response = httpx.post(
                f"{server.url}/api/v1/checkins",
                json={"venue_code": code},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert response.status_code in (200, 201), response.text
            return str(response.json()["people"][0]["colour"])

        deadline = time.monotonic() + 5
        while colour() != "yellow":  # the server may have loaded before the event landed
            assert time.monotonic() < deadline, "the exposure never showed"
            time.sleep(0.1)

        sampled = (now - timedelta(hours=1)).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        nat_file = tmp_path / "nat.csv"
        nat_file.write_text(
            f"doc_type,doc_number,sampled_at,result,institution\npassport,L00000000,{sampled},"
            "negative,社区采样点\n"
        )
        committed: list[float] = []
        engine = create_engine(settings.database_url)

        def watch_commit() -> None:
            with engine.connect() as connection:
                while time.monotonic() < deadline + 30 and not committed:
                    if connection.scalar(select(func.count()).select_from(NatTest)):
                        committed.append(time.monotonic())
                    connection.rollback()
                    time.sleep(0.02)

        watcher = threading.Thread(target=watch_commit)
        watcher.start()
        env = {
            **os.environ,
            "PLACECODE_DATABASE_URL": settings.database_url,
            "PLACECODE_KEY_DIR": str(settings.key_dir),
            "PLACECODE_PEPPER": settings.secret("pepper"),
            "PLACECODE_SECRET_KEY": settings.secret("secret_key"),
        }
        imported = subprocess.run(
            [PLACECODE, "import", "nat", str(nat_file)], env=env, capture_output=True, text=True
        )
        assert imported.returncode == 0, imported.stderr
        watcher.join()
        engine.dispose()
        assert committed, "the import never committed"
        while colour() != "green":
            assert time.monotonic() - committed[0] < 2.0, "the change was not seen within 2 s"
            time.sleep(0.05)
        assert time.monotonic() - committed[0] < 2.0
