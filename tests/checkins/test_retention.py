"""Retention: old check-ins go (whole day partitions on PostgreSQL), and so do people with
nothing left; recent ones stay."""

import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from placecode.accounts.service import Operator
from placecode.checkins import service, store
from placecode.checkins.models import CheckIn
from placecode.checkins.store import DAY, Stored, Visit, epoch, store_visits
from placecode.checkins.writer import Order, write_batch
from placecode.clock import clock
from placecode.config import Settings
from placecode.db import Database, begin_write
from placecode.health import service as health
from placecode.people import service as people
from placecode.people.models import Person
from placecode.people.sealing import Sealer, load_sealer
from placecode.venues.models import Venue
from tests.conftest import Databases, make_venue, prepare


def visit(settings: Settings, number: str, venue: Venue, days_ago: float) -> Visit:
    details = people.read_details(doc_type="passport", doc_number=number, name="Old Visitor")
    return Visit(
        person_key=people.person_key_of(settings, details.document),
        venue_id=venue.id,
        scanned_at=epoch(clock.now() - timedelta(days=days_ago)),
        channel="paper",
        colour="green",
        entry_allowed=True,
        details=details,
    )


def test_purge_keeps_the_window_and_forgets_the_rest(
    session: Session, settings: Settings, zhennan_market: Venue
) -> None:
    visits = [
        visit(settings, "E10000001", zhennan_market, 40),  # gone, and so is this person
        visit(settings, "E10000002", zhennan_market, 30),  # gone, but the person…
        visit(settings, "E10000002", zhennan_market, 2),  # …still has a recent visit
        visit(settings, "E10000003", zhennan_market, 27),  # inside 28 days: kept
    ]
    clock.freeze(clock.now() - timedelta(days=40))  # the first person registered back then
    store_visits(
        session=session,
        settings=settings,
        sealer=load_sealer(settings),
        visits=visits[:1],
        window_seconds=0,
        source="paper",
    )
    tested = people.read_details(doc_type="passport", doc_number="E10000009")
    health.import_health_file(  # someone the CDC knows of, who never checked in
        session=session,
        settings=settings,
        sealer=load_sealer(settings),
        actor=Operator(),
        kind=health.ImportKind.nat,
        filename="nat.csv",
        content=b"doc_type,doc_number,sampled_at,result,institution\n"
        + f"passport,E10000009,{clock.now().isoformat()},negative,\n".encode(),
    )
    clock.reset()
    store_visits(
        session=session,
        settings=settings,
        sealer=load_sealer(settings),
        visits=visits[1:],
        window_seconds=0,
        source="paper",
    )
    if session.get_bind().dialect.name == "postgresql":
        partitions = session.execute(
            text(
                "SELECT count(*) FROM pg_inherits JOIN pg_class p ON p.oid = inhparent WHERE p.relname = 'checkins'"
            )
        ).scalar_one()
        assert partitions >= 4  # one per day written

    purged = service.purge(session=session, settings=settings)

    assert purged.check_ins == 2
    remaining = session.scalars(select(CheckIn.scanned_at).order_by(CheckIn.scanned_at)).all()
    assert [round((epoch(clock.now()) - at) / DAY) for at in remaining] == [27, 2]
    assert purged.people == 1
    keys = set(session.scalars(select(Person.person_key)))
    assert visits[0].person_key not in keys
    assert visits[1].person_key in keys
    assert people.person_key_of(settings, tested.document) in keys  # health records stay
    if session.get_bind().dialect.name == "postgresql":
        assert len(purged.partitions) == 2
        assert all(name.startswith("checkins_p") for name in purged.partitions)


def test_a_re_imported_visit_is_not_stored_twice(
    session: Session, settings: Settings, zhennan_market: Venue
) -> None:
    same = visit(settings, "E10000004", zhennan_market, 1)
    sealer = load_sealer(settings)
    first = store_visits(
        session=session,
        settings=settings,
        sealer=sealer,
        visits=[same, same],
        window_seconds=0,
        source="paper",
    )
    again = store_visits(
        session=session,
        settings=settings,
        sealer=sealer,
        visits=[same],
        window_seconds=0,
        source="paper",
    )
    assert [getattr(r, "duplicate", None) for r in first] == [False, True]
    assert [getattr(r, "duplicate", None) for r in again] == [True]
    assert session.scalar(select(func.count()).select_from(CheckIn)) == 1


def test_the_daily_job_runs_once_per_day_whatever_the_workers(
    databases: Databases, make_settings: Callable[..., Settings]
) -> None:
    from placecode import db, scheduler
    from placecode.checkins.tasks import JOBS
    from tests.conftest import prepare

    settings = make_settings(database_url=databases.new_url())
    database = db.Database.connect(settings)
    prepare(database.engine)
    try:
        assert scheduler.run_due(database=database, settings=settings, jobs=JOBS) == [
            "checkins.daily"
        ]
        assert (
            scheduler.run_due(database=database, settings=settings, jobs=JOBS) == []
        )  # another worker
        clock.freeze(clock.now() + timedelta(days=1, minutes=1))
        assert scheduler.run_due(database=database, settings=settings, jobs=JOBS) == [
            "checkins.daily"
        ]
    finally:
        database.dispose()


def write(
    session: Session,
    settings: Settings,
    sealer: Sealer,
    one: Visit,
    *,
    source: str,
    window_seconds: int = 300,
) -> None:
    store_visits(
        session=session,
        settings=settings,
        sealer=sealer,
        visits=[one],
        window_seconds=window_seconds,
        source=source,
    )


@pytest.fixture
def own_database(
    databases: Databases, make_settings: Callable[..., Settings], authority: tuple[Path, Path]
) -> Iterator[tuple[Settings, Database]]:
    """A database of its own, for tests that write from several connections at once (the
    shared session's rolled-back transaction cannot hold them)."""
    settings = make_settings(database_url=databases.new_url())
    database = Database.connect(settings)
    prepare(database.engine)
    try:
        yield settings, database
    finally:
        database.dispose()


def test_two_writers_meeting_a_new_day_take_turns_making_its_partition(
    own_database: tuple[Settings, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers' first batches of a new day reach the partition at the same moment: one
    makes it while the other waits its turn (on PostgreSQL they used to deadlock, each
    having read the check-ins table first). SQLite has one writer at a time anyway."""
    settings, database = own_database
    sealer = load_sealer(settings)
    postgresql = database.engine.dialect.name == "postgresql"
    both_there = threading.Barrier(2 if postgresql else 1, timeout=10)
    make_partitions = store.ensure_partitions

    def meeting(session: Session, days: Iterable[int]) -> None:
        both_there.wait()
        make_partitions(session, days)

    monkeypatch.setattr(store, "ensure_partitions", meeting)
    with database.session() as session:
        venue = make_venue(session, "新日菜场", "zhenruzhen", "wet_market")
    errors: list[BaseException] = []

    def worker(number: str) -> None:
        try:
            with database.session() as session:
                begin_write(session)  # as the check-in writer does
                new_day = visit(settings, number, venue, days_ago=-3)
                write(session, settings, sealer, new_day, source="wechat")
        except BaseException as error:  # reported below
            errors.append(error)

    workers = [threading.Thread(target=worker, args=(f"N1000000{i}",)) for i in (1, 2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=30)
    assert errors == []
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(CheckIn)) == 2


def test_a_long_import_makes_its_partitions_apart_and_holds_no_scan_up(
    own_database: tuple[Settings, Database],
) -> None:
    """A big file's import makes the partitions of its days in a transaction of its own:
    made inside the import's, a partition kept the whole check-ins table locked until the
    import committed, and every live scan waited for it."""
    settings, database = own_database
    sealer = load_sealer(settings)
    postgresql = database.engine.dialect.name == "postgresql"
    with database.session() as session:
        venue = make_venue(session, "长征菜场", "changzheng", "wet_market")
    old_logbook = visit(settings, "L10000001", venue, days_ago=-5)  # a day not made yet
    with database.session() as importing:
        begin_write(importing)  # as `placecode import checkins` does
        importing.execute(select(Venue.id)).all()  # and it has read before writing
        store.make_partitions_apart(importing, store.days_of([old_logbook]))
        if postgresql:
            # Meanwhile a scan of that day, from another connection, is written at once.
            with database.session() as scanning:
                scanning.execute(text("SET LOCAL lock_timeout = '2s'"))
                scan = visit(settings, "L10000002", venue, days_ago=-5)
                write(scanning, settings, sealer, scan, source="wechat")
        write(importing, settings, sealer, old_logbook, source="import", window_seconds=0)
    with database.session() as session:
        expected = 2 if postgresql else 1
        assert session.scalar(select(func.count()).select_from(CheckIn)) == expected


def test_a_new_days_partition_gets_its_first_statistics_from_its_writer(
    own_database: tuple[Settings, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL plans the repeat check by the day partition's statistics, and a new
    partition has none until autovacuum's first ANALYZE, a minute or more into the day:
    planned without them, the check read every scan of a venue in the window. The writer
    analyzes the partition once it has written `DayPartitions.VISITS` into it, and a
    failure there leaves the committed batch's answers standing."""
    settings, database = own_database
    sealer = load_sealer(settings)
    postgresql = database.engine.dialect.name == "postgresql"
    monkeypatch.setattr(store.DayPartitions, "VISITS", 3)
    with database.session() as session:
        venue = make_venue(session, "新日超市", "ganquanlu", "shop")
    visits = [visit(settings, f"F1000000{i}", venue, days_ago=-7) for i in range(5)]
    (day,) = store.days_of(visits)
    name = store.partition_name(day)
    with database.session() as session:
        store.ensure_partitions(session, [day])
        if postgresql:  # autovacuum is not to get there first
            session.execute(text(f"ALTER TABLE {name} SET (autovacuum_enabled = false)"))

    def analyzed() -> bool:
        with database.session() as session:
            return bool(
                session.scalar(
                    text("SELECT reltuples >= 0 FROM pg_class WHERE relname = :n"), {"n": name}
                )
            )

    first_analyze = store.DayPartitions()

    def batch(*chosen: Visit) -> list[object]:
        results = write_batch(
            database=database,
            settings=settings,
            sealer=sealer,
            orders=[Order([one], 300) for one in chosen],
            partitions=first_analyze,
        )
        return [item for result in results for item in result]

    assert all(isinstance(item, Stored) for item in batch(*visits[:2]))
    if postgresql:
        assert not analyzed()
    assert all(isinstance(item, Stored) for item in batch(visits[2]))
    if postgresql:
        assert analyzed()

    def failing(self: store.DayPartitions, session: Session, visits: object) -> None:
        raise RuntimeError("ANALYZE failed")

    monkeypatch.setattr(store.DayPartitions, "written", failing)
    assert all(isinstance(item, Stored) for item in batch(*visits[3:]))
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(CheckIn)) == 5


def test_a_writer_asks_for_a_days_partition_until_it_finds_it_made(
    own_database: tuple[Settings, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer stops asking PostgreSQL for a day's partition once it has found it made,
    but only while that day is not over (`placecode purge` drops only days that are
    over), and after a failed batch it asks again: a partition dropped behind its back
    fails one batch, not every batch after it."""
    settings, database = own_database
    sealer = load_sealer(settings)
    postgresql = database.engine.dialect.name == "postgresql"
    asked: list[set[int]] = []
    make_partitions = store.ensure_partitions

    def counted(session: Session, days: Iterable[int]) -> set[int]:
        asked.append(set(days))
        return make_partitions(session, days)

    monkeypatch.setattr(store, "ensure_partitions", counted)
    with database.session() as session:
        venue = make_venue(session, "问日超市", "changzheng", "shop")
    partitions = store.DayPartitions()
    numbers = iter(f"Q{n:08d}" for n in range(100))

    def batch(days_ago: float) -> list[object]:
        scan = visit(settings, next(numbers), venue, days_ago=days_ago)
        results = write_batch(
            database=database,
            settings=settings,
            sealer=sealer,
            orders=[Order([scan], 300)],
            partitions=partitions,
        )
        return [item for result in results for item in result]

    (today,) = store.days_of([visit(settings, "Q99999999", venue, days_ago=0)])
    for _ in range(3):
        assert all(isinstance(item, Stored) for item in batch(days_ago=0))
    # Made by the first batch, found made by the second: the third asks nothing. (SQLite
    # has no partitions: its days are all found made at once.)
    assert asked == ([{today}, {today}] if postgresql else [{today}])
    for _ in range(2):  # yesterday is over: asked about every time
        assert all(isinstance(item, Stored) for item in batch(days_ago=1))
    assert len(asked) == (4 if postgresql else 3)
    if postgresql:
        with database.session() as session:
            session.execute(text(f"DROP TABLE {store.partition_name(today)}"))
            session.commit()
        with pytest.raises(Exception, match="partition"):
            batch(days_ago=0)
        assert all(isinstance(item, Stored) for item in batch(days_ago=0))
        assert asked[-1] == {today}


def test_a_batch_completes_someone_known_only_by_number(
    own_database: tuple[Settings, Database],
) -> None:
    """Someone a sentinel registered by ID number alone gets their name from a later scan
    whose token carries it, written in the writer's batch (on PostgreSQL, where the
    batch's statements are pipelined, the name is written in plain SQL)."""
    settings, database = own_database
    sealer = load_sealer(settings)
    number = "K10000001"
    with database.session() as session:
        venue = make_venue(session, "补名超市", "taopu", "shop")
        people.register_person(
            session=session,
            settings=settings,
            sealer=sealer,
            details=people.read_details(doc_type="passport", doc_number=number),
            source="sentinel",
        )
        session.commit()
    scan = visit(settings, number, venue, days_ago=0)
    results = write_batch(
        database=database, settings=settings, sealer=sealer, orders=[Order([scan], 300)]
    )
    assert all(isinstance(item, Stored) for result in results for item in result)
    with database.session() as session:
        person = session.scalars(select(Person).where(Person.person_key == scan.person_key)).one()
        assert person.name_masked == "O** V******"
        assert person.source == "sentinel"


def test_a_purge_in_batches_leaves_the_rest_for_the_next_call(
    session: Session, settings: Settings, zhennan_market: Venue
) -> None:
    numbers = [f"E2000000{n}" for n in range(5)]
    now = datetime(2022, 3, 24, 12, tzinfo=UTC)
    clock.freeze(now)
    # Minutes before the 28-day cutoff: on PostgreSQL in the boundary day's partition,
    # which is trimmed row by row (an older day's would be dropped whole).
    visits = [
        visit(settings, n, zhennan_market, 28 + (i + 1) / 1440) for i, n in enumerate(numbers)
    ]
    clock.freeze(now - timedelta(days=35))  # registered back then
    store_visits(
        session=session,
        settings=settings,
        sealer=load_sealer(settings),
        visits=visits,
        window_seconds=0,
        source="paper",
    )
    clock.freeze(now)
    rounds = []
    while True:
        purged = service.purge(session=session, settings=settings, limit=2)
        rounds.append((purged.check_ins, purged.people, purged.more))
        if not purged.more:
            break
    # Two at a time, people only once no old check-in is left.
    assert rounds == [(2, 0, True), (2, 0, True), (1, 5, False)]
    assert session.scalar(select(func.count()).select_from(CheckIn)) == 0
    assert not set(session.scalars(select(Person.person_key))) & {v.person_key for v in visits}


def test_the_daily_job_purges_a_batch_per_transaction_until_done(
    own_database: tuple[Settings, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    from placecode import scheduler
    from placecode.checkins.tasks import JOBS

    settings, database = own_database
    clock.freeze(datetime(2022, 3, 24, 12, tzinfo=UTC))
    with database.session() as session:
        venue = make_venue(session, "旧日菜场", "zhenruzhen", "wet_market")
        store_visits(
            session=session,
            settings=settings,
            sealer=load_sealer(settings),
            # Minutes before the cutoff: in PostgreSQL's boundary partition, not dropped.
            visits=[visit(settings, f"E3000000{n}", venue, 28 + n / 1440) for n in (1, 2, 3)]
            + [visit(settings, "E30000009", venue, 1)],
            window_seconds=0,
            source="paper",
        )
    batches: list[int] = []
    batch_purge = service.purge

    def counted(**kwargs: object) -> service.Purged:
        purged = batch_purge(**kwargs)  # type: ignore[arg-type]
        batches.append(purged.check_ins)
        return purged

    monkeypatch.setattr(service, "PURGE_BATCH", 1)
    monkeypatch.setattr(service, "purge", counted)
    assert scheduler.run_due(database=database, settings=settings, jobs=JOBS) == ["checkins.daily"]
    assert batches == [1, 1, 1, 0]
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(CheckIn)) == 1
