"""Every way in without a smartphone: the sentinel, the registrar's form and logbook."""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import psycopg
import pytest
from sqlalchemy import func, make_url, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from placecode.accounts import authz
from placecode.accounts.models import ApiToken, Role
from placecode.checkins.models import CheckIn, VenueHourlyCount
from placecode.clock import clock
from placecode.config import Settings
from placecode.errors import Unavailable
from placecode.people.documents import id_check_digit
from placecode.venues.models import Venue
from tests.checkins.test_durability import person_tokens, scan_at, set_up_district
from tests.conftest import (
    Databases,
    Persona,
    make_persona,
    make_venue,
    running_server,
    sign_in_citizen,
)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def valid_id(first17: str) -> str:
    return first17 + id_check_digit(first17)


def personal_code(client: TestClient) -> str:
    token = sign_in_citizen(client)
    code: str = client.get("/api/v1/citizens/me/personal-code", headers=bearer(token)).json()[
        "token"
    ]
    return code


def test_a_sentinel_checks_in_a_personal_code_and_raises_the_alarm(
    client: TestClient, sentinel: Persona, zhennan_market: Venue
) -> None:
    response = client.post(
        f"/api/v1/venues/{zhennan_market.id}/sentinel-checkins",
        json={"personal_code": personal_code(client)},
        headers=sentinel.auth,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["people"][0]["name_masked"] == "王*英"
    assert body["alarm"] is True  # no NAT: a wet market admits only a negative NAT within 48 h
    assert body["people"][0]["entry"]["allowed"] is False


def test_a_sentinel_takes_a_typed_id_number(
    client: TestClient, session: Session, sentinel: Persona, zhennan_market: Venue
) -> None:
    number = valid_id("31010719400101002")
    response = client.post(
        f"/api/v1/venues/{zhennan_market.id}/sentinel-checkins",
        json={"doc_type": "id_card", "doc_number": number},
        headers=sentinel.auth,
    )
    assert response.status_code == 200, response.text
    assert response.json()["people"][0]["doc_masked"] == number[:4] + "*" * 10 + number[-4:]
    check_in = session.scalars(select(CheckIn).order_by(CheckIn.id.desc())).first()
    assert check_in is not None
    assert (check_in.channel, check_in.recorded_by) == ("sentinel", "gate-1")
    # The request's session ended before the writer wrote: its work (the device token's
    # use, as the account page lists it) was committed, not dropped with it.
    used = session.scalar(
        select(ApiToken.last_used_at)
        .where(ApiToken.user_id == sentinel.user.id)
        .execution_options(populate_existing=True)
    )
    assert used is not None


def test_a_sentinel_scan_the_writer_refuses_notes_the_device_token_once(
    client: TestClient,
    session: Session,
    sentinel: Persona,
    zhennan_market: Venue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The token's use was committed with the request's session before the writer was
    asked; the writer's refusal (a full queue: 503) must not note it again apart."""
    apart: list[str] = []
    monkeypatch.setattr(authz, "note_use_apart", lambda _request, token_id: apart.append(token_id))

    async def full(*_args: object, **_kwargs: object) -> None:
        raise Unavailable(
            "Too many check-ins at this moment; try again in a second.", retry_after=1
        )

    monkeypatch.setattr(client.app.state.writer, "submit", full)  # type: ignore[attr-defined]
    refused = client.post(
        f"/api/v1/venues/{zhennan_market.id}/sentinel-checkins",
        json={"doc_type": "id_card", "doc_number": valid_id("31010719400101002")},
        headers=sentinel.auth,
    )
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "1"
    used = session.scalar(
        select(ApiToken.last_used_at)
        .where(ApiToken.user_id == sentinel.user.id)
        .execution_options(populate_existing=True)
    )
    assert (used is not None, apart) == (True, [])


def test_a_sentinel_refuses_forged_and_expired_personal_codes(
    client: TestClient, sentinel: Persona, zhennan_market: Venue, settings: Settings
) -> None:
    path = f"/api/v1/venues/{zhennan_market.id}/sentinel-checkins"
    code = personal_code(client)
    header, payload, signature = code.split(".")
    forged = client.post(
        path,
        json={"personal_code": f"{header}.{payload}.{signature[:-4]}AAAA"},
        headers=sentinel.auth,
    )
    assert forged.status_code == 422
    assert forged.json()["error"] == "personal_code_invalid"
    citizen_token = sign_in_citizen(client)  # a citizen token is not a personal code
    assert (
        client.post(path, json={"personal_code": citizen_token}, headers=sentinel.auth).json()[
            "error"
        ]
        == "personal_code_invalid"
    )
    clock.freeze(clock.now() + timedelta(seconds=settings.personal_code_seconds + 1))
    expired = client.post(path, json={"personal_code": code}, headers=sentinel.auth)
    assert expired.status_code == 422
    assert expired.json()["error"] == "personal_code_expired"


def test_a_sentinel_of_another_venue_is_refused(
    client: TestClient, session: Session, settings: Settings, zhennan_market: Venue
) -> None:
    elsewhere = make_venue(session, "别处的店", "taopu", "shop")
    other_gate = make_persona(session, settings, "gate-9", Role.sentinel, elsewhere.id)
    response = client.post(
        f"/api/v1/venues/{zhennan_market.id}/sentinel-checkins",
        json={"doc_type": "id_card", "doc_number": valid_id("31010719400101002")},
        headers=other_gate.auth,
    )
    assert response.status_code == 403
    assert response.json()["error"] == "out_of_scope"


def test_a_sentinel_request_must_say_one_thing(
    client: TestClient, sentinel: Persona, zhennan_market: Venue
) -> None:
    path = f"/api/v1/venues/{zhennan_market.id}/sentinel-checkins"
    assert client.post(path, json={}, headers=sentinel.auth).status_code == 422
    assert client.post(path, json={"doc_number": "123"}, headers=sentinel.auth).status_code == 422


def test_a_registrar_writes_someone_down(
    client: TestClient, registrar: Persona, zhennan_market: Venue, changfeng_shop: Venue
) -> None:
    body = {"doc_type": "id_card", "doc_number": valid_id("31010719400101002"), "name": "李阿婆"}
    response = client.post(
        f"/api/v1/venues/{zhennan_market.id}/paper-checkins", json=body, headers=registrar.auth
    )
    assert response.status_code == 201, response.text
    assert response.json()["people"][0]["name_masked"] == "李*婆"
    other = client.post(
        f"/api/v1/venues/{changfeng_shop.id}/paper-checkins", json=body, headers=registrar.auth
    )
    assert other.status_code == 403
    future = client.post(
        f"/api/v1/venues/{zhennan_market.id}/paper-checkins",
        json={
            **body,
            "scanned_at": (clock.local_now() + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M"),
        },
        headers=registrar.auth,
    )
    assert future.status_code == 422
    assert future.json()["error"] == "future_time"


def logbook(venue_id: str, other_venue: str) -> bytes:
    now = clock.local_now()
    earlier = (now - timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")
    later = (now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    rows = [
        "venue_id,scanned_at,doc_type,doc_number,name,phone,checkout_at",
        f"{venue_id},{earlier},id_card,{valid_id('31010719400101002')},李阿婆,,",
        f"{venue_id},{later},passport,E55555555,John Smith,+1 415 555 2671,{now:%Y-%m-%d %H:%M}",
        f"{venue_id},{earlier},id_card,310107194001010021,王阿公,,",  # wrong check digit
        f"{other_venue},{earlier},passport,E66666666,Jane Roe,,",  # not this registrar's venue
        f"{venue_id},not a time,passport,E77777777,Mo Li,,",
        f"{venue_id},{later},passport,E88888888,Ann Lee,12345,",  # phone
    ]
    return ("\n".join(rows) + "\n").encode("gb18030")


def test_a_logbook_gives_a_report_and_twice_adds_nothing(
    client: TestClient,
    session: Session,
    registrar: Persona,
    zhennan_market: Venue,
    changfeng_shop: Venue,
) -> None:
    content = logbook(zhennan_market.id, changfeng_shop.id)

    def upload() -> dict:  # type: ignore[type-arg]
        response = client.post(
            "/api/v1/checkins/logbook",
            files={"file": ("book.csv", content)},
            headers=registrar.auth,
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    first = upload()
    assert (first["rows"], first["accepted"], first["rejected"]) == (6, 2, 4)
    assert {(p["row"], p["field"]) for p in first["problems"]} == {
        (4, "doc_number"),
        (5, "venue_id"),
        (6, "scanned_at"),
        (7, "phone"),
    }
    second = upload()
    assert (second["accepted"], second["unchanged"], second["rejected"]) == (0, 2, 4)
    stored = session.scalar(
        select(func.count()).where(
            CheckIn.venue_id == zhennan_market.id, CheckIn.channel == "paper"
        )
    )
    assert stored == 2
    with_checkout = session.scalars(select(CheckIn).where(CheckIn.checkout_at.is_not(None))).all()
    assert len(with_checkout) == 1


@pytest.mark.parametrize("content", [b"", b"venue_id,doc_type\n", b"\xff\xfe\x00garbage\x81"])
def test_an_unreadable_logbook_is_one_clear_error(
    client: TestClient, registrar: Persona, content: bytes
) -> None:
    response = client.post(
        "/api/v1/checkins/logbook", files={"file": ("b.csv", content)}, headers=registrar.auth
    )
    assert response.status_code == 422
    assert response.json()["error"] in ("empty_file", "missing_columns", "unreadable_file")


def test_a_running_server_takes_a_logbook_of_days_gone_by(
    databases: Databases, make_settings: Callable[..., Settings]
) -> None:
    """On a database other connections see, the logbook's days get their partitions in a
    transaction of their own (PostgreSQL) before its rows are written (on SQLite, by the
    writer's process). The file has more rows than the writer's queue holds for scans: it
    is written all the same."""
    settings = make_settings(database_url=databases.new_url(), writer_queue_max=1)
    with running_server(settings) as server:
        set_up_district(server.database, settings)
        with server.database.session() as session:
            venue_id = session.scalars(select(Venue.id)).one()
            registrar = make_persona(session, settings, "door-reg", Role.registrar, venue_id)
        days_ago = (clock.local_now() - timedelta(days=3)).strftime("%Y-%m-%d")
        content = (
            "venue_id,scanned_at,doc_type,doc_number,name,phone,checkout_at\n"
            f"{venue_id},{days_ago} 09:30,passport,E12121212,Ann Lee,,\n"
            f"{venue_id},{days_ago} 10:15,passport,E34343434,Bo Wu,,\n"
        ).encode()
        response = httpx.post(
            f"{server.url}/api/v1/checkins/logbook",
            files={"file": ("book.csv", content)},
            headers=registrar.auth,
            timeout=60,
        )
    assert response.status_code == 200, response.text
    assert (response.json()["accepted"], response.json()["rejected"]) == (2, 0)
    with server.database.session() as session:
        assert session.scalar(select(func.count()).select_from(CheckIn)) == 2
    server.database.dispose()


def test_on_postgresql_a_logbook_holds_up_no_scan(
    databases: Databases, make_settings: Callable[..., Settings]
) -> None:
    """A logbook's transaction is kept waiting on a row another transaction holds (its
    hourly count, being inserted); meanwhile a scan is written and answered. Then the
    logbook is written whole. (Through the writer, the scan would wait behind it.)"""
    url = databases.new_url("postgresql")
    settings = make_settings(database_url=url)
    with running_server(settings) as server:
        code, issuer = set_up_district(server.database, settings)
        with server.database.session() as session:
            venue_id = session.scalars(select(Venue.id)).one()
            registrar = make_persona(session, settings, "door-reg", Role.registrar, venue_id)
        then = (clock.local_now() - timedelta(days=3)).replace(hour=9, minute=30)
        hour = int(then.replace(tzinfo=settings.zone).timestamp()) // 3600 * 3600
        content = (
            "venue_id,scanned_at,doc_type,doc_number,name,phone,checkout_at\n"
            f"{venue_id},{then:%Y-%m-%d %H:%M},passport,E12121212,Ann Lee,,\n"
            f"{venue_id},{then:%Y-%m-%d} 09:45,passport,E34343434,Bo Wu,,\n"
        ).encode()
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(plain) as blocker, ThreadPoolExecutor(max_workers=1) as pool:
            blocker.execute(
                "INSERT INTO venue_hourly_counts (venue_id, hour, count) VALUES (%s, %s, 0)",
                (venue_id, hour),
            )
            upload = pool.submit(
                httpx.post,
                f"{server.url}/api/v1/checkins/logbook",
                files={"file": ("book.csv", content)},
                headers=registrar.auth,
                timeout=60,
            )
            with psycopg.connect(plain, autocommit=True) as watcher:
                waiting = 0
                for _ in range(300):  # until the logbook's insert waits on the blocker's row
                    waiting = watcher.execute(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    ).fetchone()[0]  # type: ignore[index]
                    if waiting or upload.done():
                        break
                    time.sleep(0.1)
            assert waiting == 1, upload.result().text if upload.done() else "no wait seen"
            scan = scan_at(server.url, code, person_tokens(issuer, 1)[0], timeout=10)
            assert scan.status_code == 201, scan.text
            assert not upload.done()
            blocker.rollback()
            response = upload.result(timeout=60)
    assert response.status_code == 200, response.text
    assert (response.json()["accepted"], response.json()["rejected"]) == (2, 0)
    with server.database.session() as session:
        assert session.scalar(select(func.count()).select_from(CheckIn)) == 3
        counted = session.scalar(
            select(VenueHourlyCount.count).where(
                VenueHourlyCount.venue_id == venue_id, VenueHourlyCount.hour == hour
            )
        )
        assert counted == 2
    server.database.dispose()
