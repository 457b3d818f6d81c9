"""The demo district: venues in proportion, every category, the 35 and the 32, 真南 market,
organisations verified by the demo CA, one ready account per role; the `placecode demo`
command builds it and the app serves it."""

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from placecode import cli
from placecode.cli import common
from placecode.config import Settings, get_settings, load_settings
from placecode.db import Database
from placecode.demo import service
from placecode.demo.district import ZHENNAN, _proportional, plan_district
from placecode.demo.population import document_of, phone_of
from placecode.venues.models import Organisation, Venue, VenueEvent
from placecode.venues.service import natural_key
from placecode.web.app import create_app
from tests.accounts.test_pages import sign_in


def found_in(content: bytes, needles: Iterable[str]) -> list[str]:
    """The needles that occur in `content`, each made of a run of at least eight digits
    (the digits of an ID number, a passport or a phone number) with letters around it.

    A needle can only occur where its digits do, inside one of the content's runs of
    digits, and a database file holds few long ones: only needles whose digits turn up
    there are looked for in the whole content (thousands of plain searches through a
    file of megabytes took most of this module's time).
    """
    cores = {needle: max(re.findall(r"[0-9]+", needle), key=len).encode() for needle in needles}
    assert all(len(digits) >= 8 for digits in cores.values()), cores
    lengths = {len(digits) for digits in cores.values()}
    runs = re.findall(rb"[0-9]{8,}", content)
    windows = {  # every stretch of the content's digit runs as long as a needle's digits
        run[start : start + length]
        for run in runs
        for length in lengths
        for start in range(len(run) - length + 1)
    }
    return [
        needle
        for needle, digits in cores.items()
        if digits in windows and needle.encode() in content
    ]


def test_found_in_finds_a_needle_wherever_it_lies() -> None:
    content = b"\x00abc13012345678\xff\x01E00000042Z9310107199001011234" + bytes(range(256))
    needles = ["13012345678", "E00000042", "310107199001011234", "13099999999", "E00000043"]
    assert found_in(content, needles) == needles[:3]
    assert found_in(b"E00000042" + b"7", ["E00000042"]) == ["E00000042"]
    assert found_in(b"E0000004", ["E00000042"]) == []


@pytest.fixture
def reference(session: Session) -> tuple[list[dict[str, object]], list[str]]:
    return service.reference_data(session)


def test_a_district_has_every_category_the_fixed_counts_and_streets_in_proportion(
    reference: tuple[list[dict[str, object]], list[str]],
) -> None:
    streets, categories = reference
    plan = plan_district(streets=streets, categories=categories, total=2_000, seed=7)
    kinds = Counter(venue.category_code for venue in plan.venues)
    assert set(kinds) == set(categories)  # every category present
    assert (kinds["large_supermarket"], kinds["wet_market"]) == (35, 32)
    assert sum(kinds.values()) == 2_000
    per_street = Counter(venue.street_code for venue in plan.venues)
    expected = _proportional(2_000, [float(s["pop_share"]) for s in streets])  # type: ignore[arg-type]
    assert [per_street[str(s["code"])] for s in streets] == expected
    assert (plan.zhennan.name, plan.zhennan.street_code) == (ZHENNAN, "zhenruzhen")
    keys = {natural_key(venue.name, venue.address) for venue in plan.venues}
    assert len(keys) == 2_000  # no venue twice
    assert len({venue.id for venue in plan.venues}) == 2_000
    delegated = [venue for venue in plan.venues if venue.delegated]
    assert delegated and all(v.operator_name and v.organisation_id for v in delegated)


def test_the_same_seed_gives_the_same_district(
    reference: tuple[list[dict[str, object]], list[str]],
) -> None:
    streets, categories = reference
    first = plan_district(streets=streets, categories=categories, total=500, seed=11)
    again = plan_district(streets=streets, categories=categories, total=500, seed=11)
    other = plan_district(streets=streets, categories=categories, total=500, seed=12)
    assert [(v.id, v.name, v.address) for v in first.venues] == [
        (v.id, v.name, v.address) for v in again.venues
    ]
    assert [v.id for v in first.venues] != [v.id for v in other.venues]


def test_a_built_district_is_verified_and_every_role_has_an_account(
    session: Session,
    settings: Settings,
    demo_ca: Path,
    reference: tuple[list[dict[str, object]], list[str]],
) -> None:
    streets, categories = reference
    plan = plan_district(streets=streets, categories=categories, total=400, seed=3)
    service.write_organisations(session=session, settings=settings, plan=plan)
    assert service.write_venues(session=session, plan=plan) == 400
    accounts = service.create_accounts(session=session, settings=settings, plan=plan)
    assert [a.role for a in accounts] == [
        "district_admin",
        "street_admin",
        "regulator",
        "venue_manager",
        "registrar",
        "cdc_analyst",
        "sentinel",
    ]
    organisations = session.scalars(select(Organisation)).all()
    assert len(organisations) == len(plan.organisations)
    assert all(o.verified_at and o.certificate_sha256 for o in organisations)
    assert session.scalar(select(func.count()).select_from(Venue)) == 400
    assert session.scalar(select(func.count()).select_from(VenueEvent)) == 400


def test_placecode_demo_builds_a_district_that_the_app_serves_to_every_role(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("PLACECODE_ENV", "PLACECODE_SECRET_KEY", "PLACECODE_PEPPER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLACECODE_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("PLACECODE_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("PLACECODE_ARGON2_MEMORY_KIB", "8")
    monkeypatch.setenv("PLACECODE_ARGON2_PARALLELISM", "1")
    monkeypatch.setattr(common.console, "width", 200)
    database_file = tmp_path / "demo.db"
    # Set here so that what the command sets is undone after the test.
    monkeypatch.setenv("PLACECODE_DATABASE_URL", "sqlite:///unused.db")
    monkeypatch.setenv("PLACECODE_CLOCK_TODAY", "2022-03-24")
    status = cli.run(
        [
            "demo",
            "--no-serve",
            "--venues",
            "300",
            "--people",
            "3000",
            "--scans",
            "2000",
            "--days",
            "2",
            "--database",
            str(database_file),
        ]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    assert "300 venues" in out and ZHENNAN in out
    assert "Traffic alerts raised over the 2 days:" in out
    content = database_file.read_bytes()
    plain = [
        *(document_of(index, foreign)[1] for index in range(3000) for foreign in (False, True)),
        *(phone_of(index) for index in range(3000)),
    ]  # no resident's document number or phone in plain
    assert found_in(content, plain) == []
    passwords = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] in (
            "district_admin",
            "street_admin",
            "regulator",
            "venue_manager",
            "registrar",
            "cdc_analyst",
        ):
            passwords[parts[1]] = parts[2]
    assert len(passwords) == 6

    get_settings.cache_clear()
    settings = load_settings(
        database_url=f"sqlite:///{database_file}",
        clock_today="2022-03-24",
        argon2_time_cost=1,
        argon2_memory_kib=8,
        argon2_parallelism=1,
        scheduler=False,
    )
    database = Database.connect(settings)
    try:
        with TestClient(create_app(settings, database), base_url="http://127.0.0.1:8000") as client:
            for username, password in passwords.items():
                client.cookies.clear()
                assert sign_in(client, username, password).status_code == 303  # type: ignore[attr-defined]
                home = client.get("/")
                assert home.status_code == 200, username
                venues = client.get("/venues", params={"q": "真南"})
                assert venues.status_code == 200
                if username in ("admin", "zhenru", "commerce", "zhennan-manager"):
                    assert ZHENNAN in venues.text, username
    finally:
        database.dispose()
        get_settings.cache_clear()
