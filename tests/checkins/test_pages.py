"""The scan page and the door pages through a plain HTTP client."""

import re

from starlette.testclient import TestClient

from placecode.people.documents import id_check_digit
from placecode.venues.models import Venue
from tests.accounts.test_pages import csrf_of, sign_in
from tests.conftest import Persona


def citizen_signs_in_on_the_page(client: TestClient, next_: str = "/me") -> None:
    form = client.get(f"/me/login?next={next_}")
    assert form.status_code == 200
    started = client.post(
        "/me/login",
        data={
            "csrf_token": csrf_of(form.text),
            "doc_type": "id_card",
            "doc_number": "11010519491231002X",
            "name": "王秀英",
            "phone": "13812345678",
            "next": next_,
        },
    )
    assert started.status_code == 200
    code = re.search(r'class="code">(\d{6})<', started.text)
    assert code, started.text
    action = re.search(r'action="(/me/login/sig_[0-9a-f]+)"', started.text)
    assert action
    done = client.post(
        action.group(1),
        data={"csrf_token": csrf_of(started.text), "code": code.group(1), "next": next_},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "placecode_person=" in done.headers["set-cookie"]
    assert "httponly" in done.headers["set-cookie"].lower()


def venue_path(client: TestClient, persona: Persona, venue: Venue) -> str:
    url: str = client.get(f"/api/v1/venues/{venue.id}/code", headers=persona.auth).json()["url"]
    return url.removeprefix("https://placecode.test")


def test_an_anonymous_scan_offers_to_sign_in_then_checks_in(
    client: TestClient, venue_manager: Persona, zhennan_market: Venue
) -> None:
    path = venue_path(client, venue_manager, zhennan_market)
    first = client.get(path)
    assert first.status_code == 200
    assert "真南农副产品综合市场" in first.text
    assert "/me/login?next=" in first.text
    citizen_signs_in_on_the_page(client, next_=path)
    page = client.get(path)
    assert page.status_code == 200
    assert 'data-colour="green"' in page.text
    assert "王*英" in page.text and "王秀英" not in page.text
    assert "无核酸记录" in page.text
    assert "不可进入" in page.text
    english = client.get(path + "?lang=en")
    assert "May not enter" in english.text
    assert "You were already registered here" in english.text  # the second scan is folded


def test_the_citizen_home_has_a_personal_code_and_companions(client: TestClient) -> None:
    citizen_signs_in_on_the_page(client)
    home = client.get("/me")
    assert home.status_code == 200
    assert 'id="personal-code"' in home.text and "<svg" in home.text
    mother = "31010719300505002" + id_check_digit("31010719300505002")
    added = client.post(
        "/me/companions",
        data={
            "csrf_token": csrf_of(home.text),
            "doc_type": "id_card",
            "doc_number": mother,
            "name": "王老太",
            "relationship": "parent",
        },
    )
    assert added.status_code == 200
    assert "王*太" in added.text
    bad = client.post(
        "/me/companions",
        data={
            "csrf_token": csrf_of(home.text),
            "doc_type": "id_card",
            "doc_number": "123",
            "name": "x",
            "relationship": "parent",
        },
    )
    assert bad.status_code == 422
    assert "身份证号码为 17 位" in bad.text


def test_history_and_check_out_on_the_page(
    client: TestClient, venue_manager: Persona, zhennan_market: Venue
) -> None:
    path = venue_path(client, venue_manager, zhennan_market)
    citizen_signs_in_on_the_page(client, next_=path)
    page = client.get(path)
    checkout = re.search(r'action="(/me/checkins/\d+/checkout)"', page.text)
    assert checkout
    history = client.post(checkout.group(1), data={"csrf_token": csrf_of(page.text)})
    assert history.status_code == 200
    assert "真南农副产品综合市场" in history.text
    assert "/checkout" not in history.text  # checked out: no button any more


def test_a_registrar_uses_the_paper_page(
    client: TestClient, registrar: Persona, zhennan_market: Venue
) -> None:
    sign_in(client, "reggie")
    page = client.get("/registrar")
    assert zhennan_market.name in page.text
    number = "31010719400101002" + id_check_digit("31010719400101002")
    done = client.post(
        "/registrar",
        data={
            "csrf_token": csrf_of(page.text),
            "doc_type": "id_card",
            "doc_number": number,
            "name": "李阿婆",
        },
    )
    assert done.status_code == 201
    assert "李*婆" in done.text
    wrong = client.post(
        "/registrar",
        data={
            "csrf_token": csrf_of(page.text),
            "doc_type": "id_card",
            "doc_number": number[:-1] + "0",
            "name": "李阿婆",
        },
    )
    assert wrong.status_code == 422
    assert "校验位不符" in wrong.text
    book = f"venue_id,scanned_at,doc_type,doc_number,name,phone,checkout_at\n{zhennan_market.id},not-a-time,passport,E1234567,Bo,,\n"
    report = client.post(
        "/registrar/logbook",
        data={"csrf_token": csrf_of(page.text)},
        files={"file": ("b.csv", book.encode())},
    )
    assert report.status_code == 200
    assert re.search(r'data-testid="rejected">1<', report.text)


def test_the_sentinel_page_needs_a_device_session(
    client: TestClient, sentinel: Persona, zhennan_market: Venue
) -> None:
    form = client.get("/login/device")
    signed = client.post(
        "/login/device",
        data={"csrf_token": csrf_of(form.text), "token": sentinel.token},
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/sentinel"
    kiosk = client.get("/sentinel")
    assert zhennan_market.name in kiosk.text
    assert "/static/sentinel.js" in kiosk.text
    fresh = csrf_of(client.get("/login/device").text)  # signing in gave the session a new token
    refused = client.post("/login/device", data={"csrf_token": fresh, "token": "pct_nope"})
    assert refused.status_code == 401


def test_a_venue_manager_reads_the_visitor_page(
    client: TestClient, venue_manager: Persona, zhennan_market: Venue
) -> None:
    sign_in(client, "vera")
    page = client.get(f"/venues/{zhennan_market.id}/visitors")
    assert page.status_code == 200
    assert "当天无人登记" in page.text
