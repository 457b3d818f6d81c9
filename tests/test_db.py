"""Storage: migrations make the schema on both backends, identically and without drift."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import psycopg
import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    create_engine,
    inspect,
    select,
    text,
)
from sqlalchemy.orm import Session

from placecode import db
from placecode.accounts.models import AuditEntry
from placecode.config import Settings
from tests.conftest import Databases


def describe(engine: Engine) -> dict[str, Any]:
    """The schema as both backends can report it: tables, columns, keys, indexes, checks."""
    inspector = inspect(engine)
    schema = {}
    for table in sorted(inspector.get_table_names()):
        if table == "alembic_version":
            continue
        schema[table] = {
            "columns": sorted((c["name"], c["nullable"]) for c in inspector.get_columns(table)),
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign_keys": sorted(
                (
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                )
                for fk in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
                if not i.get("duplicates_constraint")  # PostgreSQL lists unique keys twice
            ),
            "unique": sorted(
                tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)
            ),
            "checks": sorted(str(c["name"]) for c in inspector.get_check_constraints(table)),
        }
    return schema


def test_upgrade_gives_the_same_schema_on_sqlite_and_postgresql(
    databases: Databases, make_settings: Callable[..., Settings]
) -> None:
    schemas = []
    for backend in ("sqlite", "postgresql"):
        settings = make_settings(database_url=databases.new_url(backend))
        engine = db.make_engine(settings)
        try:
            db.upgrade(engine)
            assert db.current_revision(engine) == db.head_revision()
            schemas.append(describe(engine))
        finally:
            engine.dispose()
    sqlite_schema, postgresql_schema = schemas
    assert sqlite_schema.keys() == postgresql_schema.keys()
    assert "users" in sqlite_schema
    for table in sqlite_schema:
        assert sqlite_schema[table] == postgresql_schema[table], table


def test_models_and_migrations_do_not_drift(engine: Engine) -> None:
    assert db.schema_drift(engine) == []


def test_drift_is_detected_when_a_migration_is_missing(engine: Engine) -> None:
    # An extra table in the metadata stands for a model added without its migration.
    from sqlalchemy import Column, Integer, Table

    extra = Table("not_migrated", db.Base.metadata, Column("id", Integer, primary_key=True))
    try:
        drift = db.schema_drift(engine)
    finally:
        db.Base.metadata.remove(extra)
    assert any(item[0] == "add_table" and item[1].name == "not_migrated" for item in drift)


def test_every_key_to_a_purged_person_is_indexed(engine: Engine) -> None:
    """Retention deletes people, and for each one the database looks for rows still naming
    them: without an index leading with the column, that is a pass over the whole table
    per person deleted (tens of thousands a day at the district's scale)."""
    inspector = inspect(engine)
    unindexed = []
    for table in inspector.get_table_names():
        # An index's columns are None where it indexes an expression.
        leading: set[tuple[str | None, ...]] = {
            tuple(inspector.get_pk_constraint(table)["constrained_columns"][:1])
        }
        leading |= {tuple(i["column_names"][:1]) for i in inspector.get_indexes(table)}
        leading |= {tuple(u["column_names"][:1]) for u in inspector.get_unique_constraints(table)}
        for fk in inspector.get_foreign_keys(table):
            if fk["referred_table"] == "persons" and (fk["constrained_columns"][0],) not in leading:
                unindexed.append(f"{table}.{fk['constrained_columns'][0]}")
    assert unindexed == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(
    databases: Databases, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(database_url=databases.new_url("sqlite"), sqlite_busy_timeout_ms=7000)
    engine = db.make_engine(settings)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 7000
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        engine.dispose()


def test_sqlite_savepoints_roll_back_only_the_inner_work(
    databases: Databases, make_settings: Callable[..., Settings]
) -> None:
    engine = db.make_engine(make_settings(database_url=databases.new_url("sqlite")))
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
            connection.execute(text("INSERT INTO t VALUES (1)"))
            inner = connection.begin_nested()
            connection.execute(text("INSERT INTO t VALUES (2)"))
            inner.rollback()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT x FROM t")).scalars().all() == [1]
    finally:
        engine.dispose()


def test_times_are_stored_in_utc_and_come_back_aware(session: Session) -> None:
    shanghai = timezone(timedelta(hours=8))
    at = datetime(2022, 3, 18, 9, 30, tzinfo=shanghai)
    entry = AuditEntry(at=at, actor="t", action="test")
    session.add(entry)
    session.flush()
    session.expire(entry)
    assert entry.at == at
    assert entry.at.tzinfo is not None
    assert entry.at.utcoffset() == timedelta(0)


def test_a_naive_time_is_refused_rather_than_guessed(session: Session) -> None:
    session.add(AuditEntry(at=datetime(2022, 3, 18, 9, 30), actor="t", action="test"))
    with pytest.raises(Exception, match="naive datetime"):
        session.flush()


def test_a_foreign_key_is_enforced(session: Session) -> None:
    from sqlalchemy.exc import IntegrityError

    insert = text(
        "INSERT INTO venue_categories (code, name_zh, name_en, department_code, "
        "dwell_minutes, entry_policy) VALUES ('x', 'x', 'x', 'nope', 10, 'green')"
    )
    with pytest.raises(IntegrityError):
        session.execute(insert)


def test_utc_now_is_what_the_clock_says() -> None:
    from placecode.clock import clock

    clock.freeze(datetime(2022, 3, 24, 12, tzinfo=UTC))
    assert clock.now() == datetime(2022, 3, 24, 12, tzinfo=UTC)


def test_postgresql_stores_times_as_timestamptz(
    databases: Databases, make_settings: Callable[..., Settings]
) -> None:
    engine = create_engine(databases.new_url("postgresql"))
    try:
        db.upgrade(engine)
        columns = {c["name"]: c["type"] for c in inspect(engine).get_columns("audit_log")}
        assert getattr(columns["at"], "timezone", False) is True
    finally:
        engine.dispose()


def test_postgresql_plans_each_statement_for_its_own_values(
    databases: Databases, make_settings: Callable[..., Settings]
) -> None:
    """A plan kept from the morning, when the day's check-ins partition was nearly empty,
    would scan the whole partition by evening (bench/bench_writer.py measured the writer's
    repeat check growing past 25 ms a batch within minutes of a fresh day)."""
    engine = db.make_engine(make_settings(), databases.new_url("postgresql"))
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
    finally:
        engine.dispose()


def test_a_postgresql_connection_idle_for_a_while_is_tested_and_replaced_if_gone(
    databases: Databases,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not every checkout is tested (a round trip each, the check-in writer's every few
    milliseconds), but one idle past `IDLE_PING_SECONDS` is: a connection the server
    dropped meanwhile is replaced, not handed out to fail."""
    engine = db.make_engine(make_settings(), databases.new_url("postgresql"))
    pings: list[object] = []
    ping = engine.dialect.do_ping

    def counted_ping(connection: Any) -> bool:
        pings.append(connection)
        return ping(connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted_ping)
    try:

        def backend() -> int:
            with engine.connect() as connection:
                return int(connection.scalar(text("SELECT pg_backend_pid()")))

        first = backend()
        assert backend() == first and pings == []  # taken again at once: not tested
        own_url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(own_url, autocommit=True) as other:  # as a restart would
            other.execute("SELECT pg_terminate_backend(%s)", [first])
        monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
        replaced = backend()
        assert replaced != first and len(pings) >= 1
    finally:
        engine.dispose()


def test_bulk_columns_come_back_as_the_values_given_on_either_backend(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = Table(
        "bulk_scratch",
        MetaData(),
        Column("id", BigInteger, primary_key=True),
        Column("n", BigInteger, nullable=True),
        Column("flag", Boolean),
        Column("code", String(12)),
        Column("label", String(40), nullable=True),
        Column("blob", LargeBinary),
        Column("at", db.UTCDateTime()),
        Column("day", Date),
        Column("fixed", String(40), nullable=True),
        Column("seen", db.UTCDateTime(), nullable=True),
    )
    scratch.create(session.connection())
    monkeypatch.setattr(db, "BULK_CHUNK", 3)  # several statements for seven rows
    count = 7
    ids = np.arange(1, count + 1)
    numbers = np.ma.MaskedArray(
        [5, -12, 0, 10**12, 7, -1, 3], mask=[False, False, True, False, False, True, False]
    )
    labels = ["张*明", None, "", "a,b'c\"", "J*** S****", None, "x" * 40]
    blobs = [bytes([n]) * n for n in range(count)]  # b"" first: empty values too
    seconds = np.array([0, 1646841600, 1646841659, 1648166399, 2**31 + 5, 86_399, 951_782_400])
    days = np.datetime64("2021-03-01") + np.array([0, 1, 30, 365, 400, 59, 1095])
    moment = datetime(2022, 3, 24, 8, 30, 15, 250_000, tzinfo=UTC)
    db.DriverSql(session).insert_columns(
        "bulk_scratch",
        {
            "id": ids,
            "n": numbers,
            "flag": ids % 2 == 0,
            "code": np.array([f"v{n:03d}".encode() for n in ids]),
            "label": labels,
            "blob": blobs,
            "at": db.Instants(seconds),
            "day": db.Days(days),
            "fixed": db.Coded(ids % 3, ("wechat", None, "随申办")),
            "seen": moment,
        },
        count,
    )
    rows = session.execute(select(scratch).order_by(scratch.c.id)).all()
    assert [tuple(row) for row in rows] == [
        (
            int(ids[i]),
            None if np.ma.getmaskarray(numbers)[i] else int(numbers.data[i]),
            bool(ids[i] % 2 == 0),
            f"v{ids[i]:03d}",
            labels[i],
            blobs[i],
            datetime.fromtimestamp(int(seconds[i]), UTC),
            days[i].astype(date),
            ("wechat", None, "随申办")[int(ids[i] % 3)],
            moment,
        )
        for i in range(count)
    ]


def test_rows_as_a_table_and_a_test_among_values_give_the_same_on_either_backend(
    session: Session,
) -> None:
    """`DriverSql.table` and `among` (VALUES and IN on SQLite, arrays on PostgreSQL, one
    statement text whatever the count) insert and find the same rows, NULLs and non-ASCII
    text included, for one row as for many."""
    scratch = Table(
        "table_scratch",
        MetaData(),
        Column("id", BigInteger, primary_key=True),
        Column("label", String(20), nullable=True),
    )
    scratch.create(session.connection())
    sql = db.DriverSql(session)
    rows = [(1, "长风"), (2, None), (3, "a,b'c\"{}"), (4, "")]
    for chunk in (rows[:1], rows[1:]):
        values, parameters = sql.table(chunk, ("bigint", "text"))
        sql.run(f"INSERT INTO table_scratch (id, label) {values}", parameters)
    assert sorted(sql.all("SELECT id, label FROM table_scratch")) == rows
    among, parameters = sql.among(["长风", "", "absent"], "text")
    found = sql.all(f"SELECT id FROM table_scratch WHERE label {among} ORDER BY id", parameters)
    assert found == [(1,), (4,)]
    wanted, parameters = sql.table([(3, "a,b'c\"{}"), (2, "x")], ("bigint", "text"))
    matched = sql.all(
        f"WITH wanted (id, label) AS ({wanted}) SELECT t.id FROM wanted "
        "JOIN table_scratch t ON t.id = wanted.id AND t.label = wanted.label",
        parameters,
    )
    assert matched == [(3,)]
