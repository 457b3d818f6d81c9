"""Work beside the scans, and the same change made twice at once.

Work that reads at length before it writes little or nothing, detection and tracing,
reads in a transaction that only reads: on SQLite a transaction that writes holds every
other writer up (the server's check-in writer among them), and judging the full district
takes seconds. Checked on a SQLite file whatever the backend under test (on PostgreSQL
nothing of the kind can be seen). Then, on the backend under test, the same change made
twice at once (alerts raised, a case confirmed, an alert acknowledged, a correction filed,
a username created) takes turns: the later one finds the earlier one's outcome."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from placecode import scheduler
from placecode.accounts import service as accounts
from placecode.accounts.models import ApiToken, AuditEntry, Role
from placecode.accounts.principal import Principal
from placecode.accounts.service import Operator
from placecode.analytics import service, tasks
from placecode.analytics.models import Alert
from placecode.clock import clock
from placecode.config import Settings
from placecode.db import Database
from placecode.errors import Conflict
from placecode.health import service as health
from placecode.health.models import Correction
from placecode.people import service as people
from placecode.people.documents import DocType, Document
from placecode.people.sealing import load_sealer
from placecode.people.service import PersonDetails
from placecode.tracing import service as tracing
from placecode.venues.models import Venue
from tests.checkins.test_durability import set_up_district
from tests.conftest import (
    Databases,
    LiveServer,
    Persona,
    make_persona,
    prepare,
    running_server,
)

ANALYST = Operator(username="cdc-test")


def surge(venue: Venue) -> service.Detection:
    """A detection of today that found a surge at the venue (as `judge` gives it)."""
    day = clock.local_now().date()
    alert = Alert(
        venue_id=venue.id,
        day=day,
        kind="surge",
        count=900,
        baseline=100.0,
        z=8.0,
        ratio=9.0,
        raised_hour=24,
        basis="recent_days",
        department_code="commerce",
        street_code=venue.street_code,
        status="open",
        created_at=clock.now(),
    )
    return service.Detection(day, 24, "recent_days", 1, [alert])


def twice_at_once(server: LiveServer, change: Callable[[Session], object]) -> dict[str, str]:
    """Make the change in two transactions at once: the first holds its transaction open a
    while after making it, the second starts meanwhile. What each came to (its Conflict's
    code, or "done")."""
    first_done, outcomes = threading.Event(), {}

    def first() -> None:
        with server.database.session_for(write=True) as session:
            change(session)
            first_done.set()
            time.sleep(0.5)  # the second one arrives meanwhile
            session.commit()
        outcomes["first"] = "done"

    thread = threading.Thread(target=first)
    thread.start()
    assert first_done.wait(10)
    with server.database.session_for(write=True) as session:
        try:
            change(session)
            session.commit()
            outcomes["second"] = "done"
        except Conflict as refused:
            outcomes["second"] = refused.code
    thread.join(10)
    return outcomes


def audits_of(server: LiveServer, action: str, target: str) -> int:
    with server.database.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == action, AuditEntry.target == target)
            )
            or 0
        )


def write_lock_free(server: LiveServer) -> bool:
    """Whether another connection could write at once (a scan's batch, say)."""
    other = sqlite3.connect(
        make_url(server.settings.database_url).database or "", timeout=0, isolation_level=None
    )
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:  # "database is locked"
        return False
    finally:
        other.close()


@pytest.fixture
def sqlite_server(databases: Databases, make_settings: Callable[..., Settings]) -> Any:
    with running_server(make_settings(database_url=databases.new_url("sqlite"))) as server:
        yield server


@pytest.fixture
def probed(sqlite_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each judging and each tracing, whether the write lock was free as it began."""
    seen: list[bool] = []
    for module, name in ((service, "judge"), (tracing, "trace")):
        work = getattr(module, name)

        def probing(*arguments: Any, _work: Any = work, **named: Any) -> Any:
            seen.append(write_lock_free(sqlite_server))
            return _work(*arguments, **named)

        monkeypatch.setattr(module, name, probing)
    return seen


def test_a_requested_detection_judges_without_the_write_lock(
    sqlite_server: LiveServer, probed: list[bool]
) -> None:
    with sqlite_server.database.session() as session:
        admin = make_persona(session, sqlite_server.settings, "judge-admin", Role.district_admin)
    response = httpx.post(
        f"{sqlite_server.url}/api/v1/analytics/detect",
        json={"day": clock.local_now().date().isoformat()},
        headers=admin.auth,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert probed == [True]
    assert write_lock_free(sqlite_server)  # and nothing left holding it


def test_tracing_reads_without_the_write_lock(
    sqlite_server: LiveServer, probed: list[bool]
) -> None:
    """A trace, a case opened (traced, then saved) and the case traced again."""
    set_up_district(sqlite_server.database, sqlite_server.settings)
    with sqlite_server.database.session() as session:
        analyst = make_persona(session, sqlite_server.settings, "trace-cdc", Role.cdc_analyst)
        venue_id = session.scalars(select(Venue.id)).one()
    now = clock.local_now()
    window = {
        "venue_id": venue_id,
        "starts_at": (now - timedelta(hours=2)).isoformat(),
        "ends_at": (now - timedelta(hours=1)).isoformat(),
    }

    def post(path: str, body: dict[str, Any]) -> httpx.Response:
        answer = httpx.post(
            f"{sqlite_server.url}/api/v1/tracing/{path}",
            json=body,
            headers=analyst.auth,
            timeout=30,
        )
        assert answer.is_success, answer.text
        assert write_lock_free(sqlite_server)  # and nothing left holding it
        return answer

    assert post("trace", {"venues": [window]}).json()["contacts"] == []  # no one was there
    case = post("cases", {"title": "A risky hour", "venues": [window]}).json()
    assert (case["title"], case["contacts_total"]) == ("A risky hour", 0)
    assert post(f"cases/{case['id']}/run", {}).json()["rerun"] == {
        "added": 0,
        "gone": 0,
        "changed": 0,
    }
    assert probed == [True, True, True]


def test_the_hourly_job_judges_without_the_write_lock(
    sqlite_server: LiveServer, probed: list[bool]
) -> None:
    done = scheduler.run_due(
        database=sqlite_server.database, settings=sqlite_server.settings, jobs=tasks.JOBS
    )
    assert done == ["analytics.hourly"]
    judged = service.days_to_judge(sqlite_server.settings)
    assert probed == [True] * len(judged)
    with sqlite_server.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 0  # no history
    # Claimed and committed: the next look finds it done for the hour.
    assert (
        scheduler.run_due(
            database=sqlite_server.database, settings=sqlite_server.settings, jobs=tasks.JOBS
        )
        == []
    )


def test_two_detections_of_one_day_at_once_raise_each_alert_once(
    databases: Databases, make_settings: Callable[..., Settings]
) -> None:
    """A request and the hourly run judging the same day: both find the alert due. The
    later one to write waits for the earlier one and then finds it raised, rather than
    failing on the one-alert-a-venue-day constraint (a 500 for a request)."""
    settings = make_settings(database_url=databases.new_url())
    with running_server(settings) as server:
        set_up_district(server.database, settings)
        with server.database.session() as session:
            venue = session.scalars(select(Venue)).one()

        raised: list[int] = []
        outcomes = twice_at_once(
            server,
            lambda session: raised.append(
                len(service.raise_alerts(session=session, found=surge(venue)).raised)
            ),
        )
        with server.database.session() as session:
            stored = session.scalar(select(func.count()).select_from(Alert))
    assert outcomes == {"first": "done", "second": "done"}
    assert (raised, stored) == ([1, 0], 1)


def test_a_confirmation_clicked_twice_at_once_confirms_once(
    databases: Databases, make_settings: Callable[..., Settings]
) -> None:
    """The later confirmation waits for the earlier one and is told the case is already
    confirmed, rather than confirming (and auditing) it a second time."""
    settings = make_settings(database_url=databases.new_url())
    with running_server(settings) as server:
        set_up_district(server.database, settings)
        now = clock.local_now()
        with server.database.session() as session:
            venue_id = session.scalars(select(Venue.id)).one()
            request = tracing.VenueRequest(
                venue_id=venue_id,
                starts_at=now - timedelta(hours=2),
                ends_at=now - timedelta(hours=1),
            )
            plan = tracing.plan_case(
                session=session, settings=settings, title="Twice", people=[], venues=[request]
            )
            case_id = tracing.open_case(session=session, actor=ANALYST, plan=plan).id
        outcomes = twice_at_once(
            server,
            lambda session: tracing.confirm_case(session=session, actor=ANALYST, case_id=case_id),
        )
        audits = audits_of(server, "tracing.confirm", case_id)
    assert outcomes == {"first": "done", "second": "case_confirmed"}
    assert audits == 1


def test_one_username_created_twice_at_once_is_a_conflict_not_a_crash(
    databases: Databases, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both requests find the username free; the database's constraint refuses the later
    one (on PostgreSQL; SQLite's writers take turns, and the service says it is taken)."""
    from placecode.accounts import service as accounts

    settings = make_settings(database_url=databases.new_url())
    with running_server(settings) as server:
        with server.database.session() as session:
            # Two admins: one token's use would have the second wait for the first (both
            # would note it on the token's row).
            admins = [
                make_persona(session, settings, f"twice-admin-{n}", Role.district_admin)
                for n in (1, 2)
            ]
        audited, inside = accounts.record_audit, threading.Event()

        def slow_audit(**arguments: Any) -> Any:
            if arguments["action"] == "user.create" and not inside.is_set():
                inside.set()  # the first one has written its user, not yet committed
                time.sleep(0.7)
            return audited(**arguments)

        monkeypatch.setattr(accounts, "record_audit", slow_audit)

        def create(admin: Persona) -> httpx.Response:
            return httpx.post(
                f"{server.url}/api/v1/users",
                json={"username": "twin", "role": "cdc_analyst", "password": "a-long-password-1"},
                headers=admin.auth,
                timeout=30,
            )

        with ThreadPoolExecutor(max_workers=2) as pool:
            first = pool.submit(create, admins[0])
            assert inside.wait(10)
            second = pool.submit(create, admins[1])
            answers = [first.result(), second.result()]
    assert [a.status_code for a in answers] == [201, 409], [a.text for a in answers]
    assert answers[1].json()["error"] in {"conflict", "username_taken"}


def test_an_alert_acknowledged_twice_at_once_is_acknowledged_once(
    databases: Databases, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(database_url=databases.new_url())
    with running_server(settings) as server:
        set_up_district(server.database, settings)
        with server.database.session() as session:
            venue = session.scalars(select(Venue)).one()
            (alert,) = service.raise_alerts(session=session, found=surge(venue)).raised
            alert_id = alert.id
        district = Principal(0, "officer", "Officer", Role.district_admin, None, "token")
        outcomes = twice_at_once(
            server,
            lambda session: service.acknowledge(
                session=session, principal=district, actor=ANALYST, alert_id=alert_id
            ),
        )
        audits = audits_of(server, "analytics.acknowledge", str(alert_id))
    assert outcomes == {"first": "done", "second": "alert_not_open"}
    assert audits == 1


def test_a_correction_filed_twice_at_once_is_filed_once(
    databases: Databases, make_settings: Callable[..., Settings]
) -> None:
    """One open request a person: the later of two at once is told one is waiting."""
    settings = make_settings(database_url=databases.new_url())
    with running_server(settings) as server:
        sealer = load_sealer(settings)
        details = PersonDetails(Document(DocType.passport, "E31313131"), "Twice Filed", None)
        with server.database.session() as session:
            person = people.register_person(
                session=session, settings=settings, sealer=sealer, details=details, source="web"
            )
            person_key, person_id = person.person_key, person.id
        outcomes = twice_at_once(
            server,
            lambda session: health.file_correction(
                session=session,
                settings=settings,
                sealer=sealer,
                person_key=person_key,
                details=None,
                reason="I was never there.",
            ),
        )
        with server.database.session() as session:
            filed = session.scalar(
                select(func.count())
                .select_from(Correction)
                .where(Correction.person_id == person_id)
            )
    assert outcomes == {"first": "done", "second": "correction_open"}
    assert filed == 1


def test_requests_with_one_token_at_once_do_not_wait_on_each_others_note_of_its_use(
    databases: Databases, make_settings: Callable[..., Settings]
) -> None:
    """Two writing requests with one staff token, its use due to be noted: the second does
    not wait for the first's transaction to end (PostgreSQL's row lock; checked on a
    PostgreSQL database whatever the backend under test: SQLite has one writer anyway)."""
    settings = make_settings(database_url=databases.new_url("postgresql"))
    database = Database.connect(settings)
    try:
        prepare(database.engine)
        with database.session() as session:
            secret = make_persona(session, settings, "busy-officer", Role.district_admin).token
        with database.session() as first:
            accounts.user_for_token(session=first, secret=secret)  # notes it, row locked
            with database.session() as second:
                second.execute(text("SET LOCAL lock_timeout = '2s'"))
                user = accounts.user_for_token(session=second, secret=secret)
                assert user.username == "busy-officer"
        with database.session() as session:
            assert session.scalars(select(ApiToken.last_used_at)).one() is not None
    finally:
        database.dispose()
