"""The scan: venue code + person token → a check-in with status and the venue's decision."""

from datetime import UTC, datetime, timedelta

import jwt
import pydantic_core
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from placecode.checkins import api as checkins_api
from placecode.checkins import service
from placecode.checkins.models import CheckIn, VenueHourlyCount
from placecode.checkins.schemas import ScanResult
from placecode.checkins.store import Stored
from placecode.clock import clock
from placecode.config import Settings
from placecode.errors import PlaceCodeError
from placecode.health.status import (
    Colour,
    EventKind,
    Nat,
    NatResult,
    PersonStatus,
    Reason,
    VaccinationState,
    entry_decision,
)
from placecode.people.documents import id_check_digit
from placecode.people.identity import external_token
from placecode.people.models import Person
from placecode.region.models import EntryPolicy
from placecode.venues.codes import VenueSnapshot
from placecode.venues.models import Venue
from tests.conftest import Persona, count, make_venue, sign_in_citizen


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def code_of(client: TestClient, persona: Persona, venue: Venue) -> str:
    url: str = client.get(f"/api/v1/venues/{venue.id}/code", headers=persona.auth).json()["url"]
    return url


@pytest.fixture
def market_code(client: TestClient, venue_manager: Persona, zhennan_market: Venue) -> str:
    return code_of(client, venue_manager, zhennan_market)


def scan(client: TestClient, token: str, venue_code: str, **extra: object):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/checkins", json={"venue_code": venue_code, **extra}, headers=bearer(token)
    )


def test_a_scan_checks_in_and_shows_status_and_decision(
    client: TestClient, session: Session, market_code: str, zhennan_market: Venue
) -> None:
    token = sign_in_citizen(client)
    response = scan(client, token, market_code, channel="suishenban")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["venue"]["name"] == "真南农副产品综合市场"
    (person,) = body["people"]
    assert (person["name_masked"], person["colour"], person["duplicate"]) == (
        "王*英",
        "green",
        False,
    )
    assert person["nat"] is None
    assert person["vaccination"] == "no_record"
    assert person["entry"]["allowed"] is False  # a wet market needs a negative NAT within 48 h
    assert "48" in person["entry"]["reason"]
    stored = session.scalars(select(CheckIn).where(CheckIn.id == person["check_in_id"])).one()
    assert (stored.venue_id, stored.channel, stored.colour) == (
        zhennan_market.id,
        "suishenban",
        "green",
    )


def test_a_green_code_enters_a_green_only_venue(
    client: TestClient, session: Session, street_admin: Persona
) -> None:
    token = sign_in_citizen(client)
    corner_shop = make_venue(session, "长风便民店", "changfengxincun", "shop")
    body = scan(client, token, code_of(client, street_admin, corner_shop)).json()
    assert body["people"][0]["entry"] == {"allowed": True, "reason": "Green code: welcome."}


def test_the_same_scan_within_the_window_gives_the_check_in_back(
    client: TestClient, session: Session, market_code: str, settings: Settings
) -> None:
    token = sign_in_citizen(client)
    first = scan(client, token, market_code).json()["people"][0]
    clock.freeze(clock.now() + timedelta(minutes=settings.dedupe_minutes - 1))
    again = scan(client, token, market_code)
    assert again.status_code == 200
    assert again.json()["people"][0]["check_in_id"] == first["check_in_id"]
    assert again.json()["people"][0]["duplicate"] is True
    clock.freeze(clock.now() + timedelta(minutes=2))
    later = scan(client, token, market_code)
    assert later.status_code == 201
    assert later.json()["people"][0]["check_in_id"] != first["check_in_id"]


def test_hourly_counts_are_kept_with_the_scans(
    client: TestClient, session: Session, market_code: str, zhennan_market: Venue
) -> None:
    for number in ("11010519491231002X", "310107198001011233", "440305201506010049"):
        fixed = number[:17] + id_check_digit(number[:17])
        scan(client, sign_in_citizen(client, doc_number=fixed, phone="13900000000"), market_code)
    counted = session.scalar(
        select(func.sum(VenueHourlyCount.count)).where(
            VenueHourlyCount.venue_id == zhennan_market.id
        )
    )
    stored = session.scalar(select(func.count()).where(CheckIn.venue_id == zhennan_market.id))
    assert counted == stored == 3


def test_an_issuers_token_registers_the_person_on_first_sight(
    client: TestClient, session: Session, market_code: str, wechat: Ed25519PrivateKey
) -> None:
    token = external_token(
        wechat,
        issuer="wechat",
        doc_type="passport",
        doc_number="X12345678",
        name="Anna Schmidt",
        phone="+49 1512 3456789",
        expires=clock.now() + timedelta(hours=1),
    )
    before = count(session, Person)
    response = scan(client, token, market_code)
    assert response.status_code == 201, response.text
    assert response.json()["people"][0]["name_masked"] == "A*** S******"
    assert session.scalar(select(func.count()).select_from(Person)) == before + 1
    check_in = session.scalars(select(CheckIn)).all()[-1]
    assert check_in.channel == "wechat"


def tokens_verified(client: TestClient) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("placecode_person_tokens_verified_total "):
            return float(line.split()[1])
    raise AssertionError("no placecode_person_tokens_verified_total on /metrics")


def test_a_token_seen_before_is_recognised_without_verifying_it_again(
    client: TestClient, market_code: str, wechat: Ed25519PrivateKey, settings: Settings
) -> None:
    token = external_token(
        wechat,
        issuer="wechat",
        doc_type="passport",
        doc_number="X23456789",
        name="Anna Schmidt",
        phone=None,
        expires=clock.now() + timedelta(hours=1),
    )
    before = tokens_verified(client)
    assert scan(client, token, market_code).status_code == 201
    assert tokens_verified(client) == before + 1
    clock.freeze(clock.now() + timedelta(minutes=settings.dedupe_minutes + 1))
    assert scan(client, token, market_code).status_code == 201  # a new visit, the same token
    assert tokens_verified(client) == before + 1


def test_bad_person_tokens_are_refused(
    client: TestClient, market_code: str, wechat: Ed25519PrivateKey
) -> None:
    def token(key: Ed25519PrivateKey, issuer: str = "wechat", minutes: int = 60) -> str:
        return external_token(
            key,
            issuer=issuer,
            doc_type="passport",
            doc_number="X12345678",
            name="Anna",
            phone=None,
            expires=clock.now() + timedelta(minutes=minutes),
        )

    assert scan(client, token(wechat, "alipay"), market_code).json()["error"] == "unknown_issuer"
    assert (
        scan(client, token(Ed25519PrivateKey.generate()), market_code).json()["error"]
        == "person_token_invalid"
    )
    assert (
        scan(client, token(wechat, minutes=-1), market_code).json()["error"]
        == "person_token_expired"
    )
    citizen = sign_in_citizen(client)
    header, payload, signature = citizen.split(".")
    tampered = jwt.encode({"t": "citizen", "sub": "0" * 32}, "k" * 32, algorithm="HS256")
    assert scan(client, tampered, market_code).status_code == 401
    assert scan(client, f"{header}.{payload}x.{signature}", market_code).status_code == 401


def test_a_scan_that_does_not_fit_is_a_clear_422_and_writes_nothing(
    client: TestClient, session: Session, market_code: str
) -> None:
    """The scan's route reads its own body (a LeanRoute): a body that does not fit gets the
    same answer as on any other route, naming the field."""
    token = sign_in_citizen(client)
    before = count(session, CheckIn)

    def refused(content: bytes, content_type: str | None = "application/json") -> dict:  # type: ignore[type-arg]
        headers = bearer(token) | ({"Content-Type": content_type} if content_type else {})
        response = client.post("/api/v1/checkins", content=content, headers=headers)
        assert response.status_code == 422, response.text
        body: dict = response.json()  # type: ignore[type-arg]
        assert body["error"] == "invalid_request"
        return body

    assert refused(b'{"venue_code": "x"', "application/json")["details"][0]["field"] == "body"
    assert refused(b"")["details"][0]["field"] == "body"
    assert refused(b'{"venue_code": 7}')["details"][0]["field"] == "venue_code"
    assert refused(b'{"venue_code": "x", "channel": "telegram"}')["details"][0]["field"] == (
        "channel"
    )
    assert refused(b'{"venue_code": "x", "surprise": 1}')["details"][0]["field"] == "surprise"
    assert refused(b"\xff\xfe")["details"][0]["field"] == "body"
    untyped = refused(f'{{"venue_code": "{market_code}"}}'.encode(), None)
    assert "Content-Type: application/json" in untyped["message"]
    form = refused(b"venue_code=x", "application/x-www-form-urlencoded")
    assert "JSON" in form["message"]
    # A JSON media type with parameters or a +json suffix is JSON.
    response = client.post(
        "/api/v1/checkins",
        content=f'{{"venue_code": "{market_code}"}}'.encode(),
        headers=bearer(token) | {"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201, response.text
    response = client.post(  # media types are not case-sensitive
        "/api/v1/checkins",
        content=f'{{"venue_code": "{market_code}"}}'.encode(),
        headers=bearer(token) | {"Content-Type": "Application/JSON"},
    )
    assert response.status_code == 200, response.text  # the same scan again: a repeat
    assert session.scalar(select(func.count()).select_from(CheckIn)) == before + 1


def test_the_scan_route_is_documented_with_its_body_and_answer(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/api/v1/checkins"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/CheckInRequest")
    assert {"200", "201", "422"} <= set(operation["responses"])
    assert operation["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ScanResult"
    )


def test_a_refused_venue_code_is_refused_at_the_scan(
    client: TestClient, venue_manager: Persona, market_code: str, zhennan_market: Venue
) -> None:
    token = sign_in_citizen(client)
    client.post(f"/api/v1/venues/{zhennan_market.id}/revoke", headers=venue_manager.auth)
    response = scan(client, token, market_code)
    assert response.status_code == 410
    assert response.json()["error"] == "venue_revoked"


def test_scanning_faster_than_a_person_can_walk_is_429(
    client: TestClient, session: Session, street_admin: Persona, settings: Settings
) -> None:
    token = sign_in_citizen(client)
    venues = [
        make_venue(session, f"快店{i}", "changfengxincun", "shop")
        for i in range(settings.scan_max_venues_per_minute + 1)
    ]
    codes = [code_of(client, street_admin, venue) for venue in venues]
    for code in codes[:-1]:
        assert scan(client, token, code).status_code == 201
    too_fast = scan(client, token, codes[-1])
    assert too_fast.status_code == 429
    assert too_fast.json()["error"] == "scanning_too_fast"
    assert int(too_fast.headers["retry-after"]) > 0
    assert scan(client, token, codes[0]).status_code == 200  # a venue already visited is fine


def test_companions_each_get_their_own_check_in(
    client: TestClient, session: Session, market_code: str
) -> None:
    token = sign_in_citizen(client)
    for number, name in (("31010719300505002", "王老太"), ("31010720150505003", "王小宝")):
        added = client.post(
            "/api/v1/citizens/me/companions",
            json={
                "doc_type": "id_card",
                "doc_number": number + id_check_digit(number),
                "name": name,
                "relationship": "parent",
            },
            headers=bearer(token),
        )
        token = added.json()["token"]
    people = scan(client, token, market_code).json()["people"]
    assert [p["name_masked"] for p in people] == ["王*英", "王*太", "王*宝"]
    assert [p["companion"] for p in people] == [False, True, True]
    assert len({p["check_in_id"] for p in people}) == 3
    alone = scan(client, token, market_code, with_companions=False).json()["people"]
    assert len(alone) == 1


def test_a_citizen_checks_out_and_sees_their_history(client: TestClient, market_code: str) -> None:
    token = sign_in_citizen(client)
    person = scan(client, token, market_code).json()["people"][0]
    clock.freeze(clock.now() + timedelta(minutes=20))
    out = client.post(
        f"/api/v1/citizens/me/checkins/{person['check_in_id']}/checkout", headers=bearer(token)
    )
    assert out.status_code == 200
    assert out.json()["checkout_at"] is not None
    history = client.get("/api/v1/citizens/me/checkins", headers=bearer(token)).json()
    assert [v["venue_name"] for v in history] == ["真南农副产品综合市场"]
    stranger = sign_in_citizen(
        client,
        doc_number="440305201506010049"[:17] + id_check_digit("44030520150601004"),
        phone="13900000000",
    )
    assert (
        client.post(
            f"/api/v1/citizens/me/checkins/{person['check_in_id']}/checkout",
            headers=bearer(stranger),
        ).status_code
        == 404
    )


def test_a_venue_manager_sees_masked_visitors_only(
    client: TestClient,
    venue_manager: Persona,
    street_admin: Persona,
    market_code: str,
    zhennan_market: Venue,
) -> None:
    scan(client, sign_in_citizen(client), market_code)
    visitors = client.get(
        f"/api/v1/venues/{zhennan_market.id}/visitors", headers=venue_manager.auth
    ).json()
    assert [(v["name_masked"], v["colour"], v["channel"]) for v in visitors] == [
        ("王*英", "green", "web")
    ]
    assert "王秀英" not in str(visitors) and "13812345678" not in str(visitors)
    assert (
        client.get(
            f"/api/v1/venues/{zhennan_market.id}/visitors", headers=street_admin.auth
        ).status_code
        == 403
    )


SCAN_AT = datetime(2022, 3, 14, 9, 30, 12, 345678, tzinfo=UTC)


@st.composite
def at_the_door(draw: st.DrawFn, companion_of: str | None) -> service.AtTheDoor:
    reasons = tuple(
        Reason(kind=kind, colour=colour, since=SCAN_AT - timedelta(days=2), until=until)
        for kind, colour, until in draw(
            st.lists(
                st.tuples(
                    st.sampled_from([k for k in EventKind if k is not EventKind.cleared]),
                    st.sampled_from(list(Colour)),
                    st.sampled_from([None, SCAN_AT + timedelta(days=5)]),
                ),
                max_size=2,
            )
        )
    )
    nat = draw(
        st.none()
        | st.builds(
            Nat,
            st.integers(0, 200).map(lambda hours: SCAN_AT - timedelta(hours=hours, seconds=7)),
            st.sampled_from(list(NatResult)),
        )
    )
    status = PersonStatus(
        colour=draw(st.sampled_from(list(Colour))),
        reasons=reasons,
        until=draw(st.sampled_from([None, SCAN_AT + timedelta(days=1)])),
        nat=nat,
        vaccination=draw(st.sampled_from(list(VaccinationState))),
    )
    return service.AtTheDoor(
        person_key="k" * 32,
        name_masked=draw(st.sampled_from(["张*", "A*** S******"])),
        doc_masked="3101**********123X",
        status=status,
        decision=entry_decision(status, draw(st.sampled_from(list(EntryPolicy))), SCAN_AT),
        companion_of=companion_of,
    )


@given(
    head=at_the_door(None),
    companions=st.lists(at_the_door("k" * 32), max_size=2),
    duplicate=st.booleans(),
    policy=st.sampled_from(list(EntryPolicy)),
)
def test_the_scans_answer_is_the_documented_one_field_for_field(
    head: service.AtTheDoor,
    companions: list[service.AtTheDoor],
    duplicate: bool,
    policy: EntryPolicy,
) -> None:
    venue = VenueSnapshot(
        "v" * 12, "镇南菜场", "镇南路1号", "changfengxincun", "market", "commerce", None,
        "active", 1, policy.value, 60,
    )  # fmt: skip
    people = [head, *companions]
    scan = service.Scan(venue=venue, at=SCAN_AT, people=people, visits=[])
    stored: list[Stored | PlaceCodeError] = [
        Stored(check_in_id=100 + i, scanned_at=0, duplicate=duplicate) for i in range(len(people))
    ]
    answer = checkins_api.scan_answer(scan, stored)
    # What the scan route sends is what the validated model would have sent.
    assert (
        pydantic_core.to_json(answer)
        == ScanResult.model_validate(answer).model_dump_json().encode()
    )
    assert [person["companion"] for person in answer["people"]] == [False] + [True] * len(
        companions
    )
