"""Engine, sessions and migrations: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from placecode.config import Settings

if TYPE_CHECKING:
    from alembic.config import Config

# Each domain's models module; imported so that Base.metadata knows every table.
MODEL_MODULES = (
    "placecode.changes",
    "placecode.signing",
    "placecode.scheduler",
    "placecode.region.models",
    "placecode.accounts.models",
    "placecode.venues.models",
    "placecode.people.models",
    "placecode.checkins.models",
    "placecode.health.models",
    "placecode.tracing.models",
    "placecode.analytics.models",
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC; SQLite keeps no offset, so it is added on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; ask the clock for aware ones")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


def load_all_models() -> MetaData:
    """Import every domain's models and return the complete metadata."""
    for module in MODEL_MODULES:
        importlib.import_module(module)
    return Base.metadata


def make_engine(settings: Settings, url: str | None = None) -> Engine:
    """Create an engine with the pragmas and pool the backend needs."""
    url = url or settings.database_url
    if url.startswith("sqlite"):
        in_memory = url in ("sqlite://", "sqlite:///:memory:")
        pool: dict[str, Any] = (
            {}
            if in_memory
            else {"pool_size": settings.db_pool_size, "max_overflow": settings.db_pool_size}
        )
        engine = create_engine(url, connect_args={"check_same_thread": False}, **pool)
        _tune_sqlite(engine, settings)
        return engine
    # Plans for the values at hand, every time: psycopg prepares a statement after a few
    # runs, and PostgreSQL would then keep a generic plan made while the day's check-ins
    # partition was nearly empty (a full scan), and use it all day as the partition grows.
    engine = create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        connect_args={"options": "-c plan_cache_mode=force_custom_plan"},
    )
    _ping_when_idle(engine)
    return engine


IDLE_PING_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Test a pooled PostgreSQL connection before use if it sat idle for a while: one
    that went stale (the server restarted, a firewall forgot it) is then replaced rather
    than failing its first statement. SQLAlchemy's `pool_pre_ping` tests every one, a
    round trip for every unit of work: one in ten of the check-in writer's for each
    batch, when it takes a connection every few milliseconds."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return  # new, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError from exc  # the pool opens a new connection instead


def _tune_sqlite(engine: Engine, settings: Settings) -> None:
    # pysqlite opens transactions lazily on its own and breaks SAVEPOINT; we take over
    # BEGIN so that nested transactions (tests, partial imports) work as documented.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={settings.sqlite_synchronous}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers ask for IMMEDIATE: they take the write lock at once, so a snapshot taken
        # by an earlier read can never be invalidated under them.
        immediate = connection.get_execution_options().get("sqlite_begin") == "IMMEDIATE"
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


BULK_CACHE_KIB = 1 << 18  # a bulk session's page cache: 256 MiB (1 GiB was no faster)


@dataclass
class Database:
    """One engine and its session factories, owned by the app or the command that made it.

    `write_sessions` are for a unit of work that reads and then writes (a staff request
    that changes something): on SQLite their transaction begins IMMEDIATE, taking the
    write lock before the first read. A transaction that read first and wrote later
    would find its snapshot stale whenever another writer (the check-in writer, every few
    milliseconds) had committed in between, and SQLite refuses that at once, "database is
    locked", without waiting. Without a factory of its own (tests' savepoint sessions),
    `sessions` serves for both.
    """

    engine: Engine
    sessions: sessionmaker[Session]
    write_sessions: sessionmaker[Session] | None = None

    @classmethod
    def connect(cls, settings: Settings, url: str | None = None) -> Database:
        engine = make_engine(settings, url)
        return cls(
            engine=engine,
            sessions=sessionmaker(engine, expire_on_commit=False),
            write_sessions=sessionmaker(
                engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
            ),
        )

    @property
    def private(self) -> bool:
        """Whether its work is out of sight of other connections: an in-memory SQLite, or
        sessions bound to one outer transaction (the tests'). Such a database cannot be
        written from another process, nor partly in a transaction of its own."""
        url = self.engine.url
        in_memory = url.drivername.startswith("sqlite") and url.database in (None, "", ":memory:")
        return in_memory or self.write_sessions is None

    def session_for(self, *, write: bool) -> Session:
        """A new session, from `write_sessions` if it is to write and there are some."""
        factory = self.write_sessions if write and self.write_sessions else self.sessions
        return factory()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def bulk_session(self) -> Iterator[Session]:
        """A unit of work for building a fresh database in bulk (the demo district). On
        SQLite, without the rollback journal, fsyncs and per-row foreign-key checks while it
        runs (a failed build is built again, not recovered), back to normal after it."""
        if self.engine.dialect.name != "sqlite":
            with self.session() as session:
                yield session
            return
        with self.engine.connect() as connection:
            raw = connection.connection.driver_connection
            assert raw is not None
            # A large page cache too: pages are then written once, not each time they
            # leave SQLite's default 2 MiB (the bulk of a build's system time).
            for pragma in (
                "foreign_keys=OFF",
                "journal_mode=OFF",
                "synchronous=OFF",
                f"cache_size=-{BULK_CACHE_KIB}",
            ):
                raw.execute(f"PRAGMA {pragma}")
            try:
                with (
                    Session(bind=connection, expire_on_commit=False) as session,
                    session.begin(),
                ):
                    yield session
            finally:
                raw.execute("PRAGMA journal_mode=WAL")
                connection.invalidate()  # not back to the pool with the other pragmas

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def insert_ignoring_conflicts(session: Session, table: Any, index_elements: list[str]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING, which SQLite and PostgreSQL spell alike."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=index_elements)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing(index_elements=index_elements)


@dataclass(frozen=True)
class Coded:
    """A column of a few distinct values, given as codes (numpy integers) into `values`."""

    codes: np.ndarray
    values: Sequence[Any]


@dataclass(frozen=True)
class Instants:
    """A UTCDateTime column given as epoch seconds (numpy integers)."""

    seconds: np.ndarray


@dataclass(frozen=True)
class Days:
    """A Date column given as numpy datetime64 days."""

    days: np.ndarray


# What `DriverSql.insert_columns` takes for a column: a numpy integer or boolean array (a
# masked array for NULLs), a numpy bytes array (ASCII text), Coded, Instants, Days, a
# sequence of str or bytes (None for NULL), or one value for every row.
ColumnValues = Any
BULK_CHUNK = 1_000_000  # rows per statement: a few tens of MB of parameters
_DIGITS = ", ".join(f"({n})" for n in range(1000))


def begin_write(session: Session) -> None:
    """Start the session's (next) transaction as a writer: IMMEDIATE on SQLite, the write
    lock taken before the first read (see `Database`)."""
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


class DriverSql:
    """Plain SQL through the driver, for the hot paths (the check-in writer, bulk loads):
    SQLAlchemy's statement machinery costs more there than the statements themselves.
    It works in the session's transaction of the moment: make one where it is used, not
    to keep past that transaction's end."""

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self.sqlite = self.connection.dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"
        self._driver_cursor: Any = None

    def marks(self, count: int) -> str:
        return ", ".join([self.mark] * count)

    def table(self, rows: Sequence[Sequence[Any]], types: Sequence[str]) -> tuple[str, list[Any]]:
        """Rows of values to select from or insert, and their parameters: `VALUES (?, ?), …`
        on SQLite; on PostgreSQL `SELECT * FROM unnest(%b::bigint[], %b::text[])`, an array
        for each column (`types` are PostgreSQL's names), so that the statement's text is
        the same whatever the number of rows. psycopg then converts it once (it converts
        a statement of more than 50 parameters afresh every time), and PostgreSQL parses it
        once, as a prepared statement. Arrays go in binary: 27 pairs took 39 µs to
        convert so, 78 µs as text and 227 µs as 54 parameters. Not empty."""
        if self.sqlite:
            row = f"({self.marks(len(types))})"
            return "VALUES " + ", ".join([row] * len(rows)), [v for row in rows for v in row]
        arrays = ", ".join(f"%b::{kind}[]" for kind in types)  # binary: half the cost
        columns = [list(column) for column in zip(*rows, strict=True)]
        return f"SELECT * FROM unnest({arrays})", columns  # noqa: S608  (the caller's type names)

    def among(self, values: Sequence[Any], kind: str) -> tuple[str, list[Any]]:
        """A test of a column against these values, and its parameters: `IN (?, ?)` on
        SQLite, `= ANY(%b::text[])` on PostgreSQL (one statement text, as `table`)."""
        if self.sqlite:
            return f"IN ({self.marks(len(values))})", list(values)
        return f"= ANY(%b::{kind}[])", [list(values)]

    def timestamp(self, moment: datetime) -> Any:
        """A UTC instant as the UTCDateTime columns store it."""
        moment = moment.astimezone(UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else moment

    @contextmanager
    def together(self, *, then_commit: bool = False) -> Iterator[None]:
        """PostgreSQL: the statements of this block go out without waiting for each other's
        answers (psycopg's pipeline mode); a read waits once for all sent before it, and
        the block's end for the rest. With `then_commit` the block ends with COMMIT, sent
        with its last statements (the session's commit after it has nothing left to send).
        The check-in writer's batch so takes three round trips where it took nine
        (docs/benchmarks.md; psycopg begins a transaction with a round trip of its own).
        An error surfaces at that read or at the block's end. Inside, use `insert_values`
        (COPY is not allowed), no ORM statements (their results are read before they are
        there) and no `together` again (an inner block waits for all before it as it
        begins). SQLite: as without."""
        if self.sqlite:
            yield
            return
        from psycopg.pq import TransactionStatus

        driver = self._cursor().connection
        try:
            with driver.pipeline():
                yield
                # (Not in a savepoint, such as the tests' sessions': COMMIT would end the
                # whole transaction where the session's commit only releases its own.)
                if then_commit and not self.connection.in_nested_transaction():
                    driver.execute("COMMIT")
        except BaseException:
            # A commit sent after a failed statement was never run, and the transaction
            # is still open, aborted. SQLAlchemy, having asked for the commit, would hand
            # the connection back to its pool without a rollback.
            if driver.info.transaction_status == TransactionStatus.INERROR:
                driver.rollback()
            raise

    def later(self, statement: str, parameters: Sequence[Any] = ()) -> Callable[[], list[Any]]:
        """Send a statement now and read its rows when called; inside `together`, the
        statements sent so go out in one flight."""
        if self.sqlite:
            rows = self.all(statement, parameters)
            return lambda: rows
        cursor = self._cursor().connection.cursor()  # its own: a cursor holds one result
        cursor.execute(statement, tuple(parameters))
        return lambda: list(cursor.fetchall())

    def all(self, statement: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows, as plain tuples straight from the driver's cursor. (SQLAlchemy's
        statement and result machinery cost the check-in writer about as much again as
        the driver's own work for each of its statements.)"""
        cursor = self._cursor()
        cursor.execute(statement, tuple(parameters))
        return list(cursor.fetchall())

    def run(self, statement: str, parameters: Sequence[Any] = ()) -> None:
        """A statement that returns no rows."""
        self._cursor().execute(statement, tuple(parameters))

    def many(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cursor().executemany(statement, [tuple(row) for row in rows])

    def _cursor(self) -> Any:
        """The driver's cursor, one for all statements (in the session's transaction)."""
        if self._driver_cursor is None:
            self._driver_cursor = self.connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        return self._driver_cursor

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Bulk insert: COPY on PostgreSQL (one round trip), executemany on SQLite. Table and
        column names are the caller's constants, never input."""
        if not rows:
            return
        names = ", ".join(columns)
        if not self.sqlite:
            with self._cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        self.many(f"INSERT INTO {table} ({names}) VALUES ({self.marks(len(columns))})", rows)  # noqa: S608

    def insert_values(
        self,
        table: str,
        columns: Sequence[str],
        types: Sequence[str],
        rows: Sequence[Sequence[Any]],
    ) -> None:
        """Insert rows in one statement that can go inside `together`: on PostgreSQL from
        arrays (`types` are PostgreSQL's names, see `table`), executemany on SQLite."""
        if not rows:
            return
        if self.sqlite:
            self.insert_rows(table, columns, rows)
            return
        values, parameters = self.table(rows, types)
        self.run(f"INSERT INTO {table} ({', '.join(columns)}) {values}", parameters)

    def insert_columns(self, table: str, columns: Mapping[str, ColumnValues], count: int) -> None:
        """Bulk insert of `count` rows given column by column (see ColumnValues): COPY on
        PostgreSQL; on SQLite one statement per million rows that unpacks its columns
        itself.

        Why: binding rows one by one through executemany costs SQLite about 2 µs a row of
        a check-in's width, which is most of a demo district's build. Here each column
        travels as one blob (integers as fixed-width text, strings end to end with their
        offsets) and a recursive row counter cuts the rows out of them inside SQLite:
        about a third of the cost, and no Python objects per row.
        """
        for start in range(0, count, BULK_CHUNK):
            stop = min(count, start + BULK_CHUNK)
            part = {name: _rows_of(values, start, stop) for name, values in columns.items()}
            if self.sqlite:
                self._insert_unpacked(table, part, stop - start)
            else:
                values = [_python_column(v, stop - start) for v in part.values()]
                self.insert_rows(table, list(part), list(zip(*values, strict=True)))

    def _insert_unpacked(self, table: str, columns: Mapping[str, ColumnValues], count: int) -> None:
        parameters: list[Any] = []
        expressions = [_unpacking(values, parameters) for values in columns.values()]
        # Table and column names are the caller's constants; every value is a parameter.
        # Row i = 1000 high + low, counted by a join of a thousand constants with itself
        # (half the cost of a recursive counter, in order); at most BULK_CHUNK rows.
        statement = (
            f"WITH digit(d) AS (VALUES {_DIGITS}) INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
            f"SELECT {', '.join(expressions)} FROM (SELECT high.d * 1000 + low.d AS i "
            "FROM digit AS high CROSS JOIN digit AS low "
            f"WHERE high.d < {(count + 999) // 1000} AND high.d * 1000 + low.d < {count})"
        )
        self.run(statement, parameters)


def copy_database(database: Database, path: Path) -> None:
    """A consistent copy of a SQLite database (committed work only) into a new file."""
    with database.engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.execute("VACUUM INTO ?", (str(path),))  # outside any transaction, as it must be


def copy_tables(session: Session, path: Path, tables: Sequence[str]) -> None:
    """Move the rows of these tables from the SQLite file at `path` (a copy of this
    database's schema) into their empty namesakes here.

    Into an empty table with the same columns and indexes, `INSERT … SELECT *` is SQLite's
    transfer optimisation: records and index entries are copied as they are, several times
    faster than writing the rows (the demo's build depends on it; tests/demo/test_build.py
    checks that it applies).
    """
    session.execute(text("ATTACH DATABASE :path AS source"), {"path": str(path)})
    for table in tables:
        session.execute(text(f"INSERT INTO main.{table} SELECT * FROM source.{table}"))  # noqa: S608


def _rows_of(values: ColumnValues, start: int, stop: int) -> ColumnValues:
    if isinstance(values, Coded):
        return Coded(values.codes[start:stop], values.values)
    if isinstance(values, Instants):
        return Instants(values.seconds[start:stop])
    if isinstance(values, Days):
        return Days(values.days[start:stop])
    if isinstance(values, np.ndarray | list | tuple):
        return values[start:stop]
    return values


def _integers(values: np.ndarray, parameters: list[Any]) -> str:
    """Fixed-width decimal text, one field per row."""
    if isinstance(values, np.ma.MaskedArray):
        if not values.mask.any():
            return _integers(values.data, parameters)
        null = int(values.min()) - 1 if values.count() else 0
        inner = _integers(values.filled(null), parameters)
        parameters.append(null)
        return f"NULLIF({inner}, ?)"
    numbers = np.asarray(values, dtype=np.int64)
    low = int(numbers.min()) if len(numbers) else 0
    if low < 0:  # stored above zero, the offset taken off again in SQL
        shifted = _integers(numbers - low, parameters)
        parameters.append(-low)  # parameters go in the order of their marks in the SQL
        return f"({shifted} - ?)"
    width = len(str(int(numbers.max()))) if len(numbers) else 1
    digits = np.empty((len(numbers), width), dtype=np.uint8)
    rest = numbers.copy()
    for place in range(width - 1, -1, -1):  # digit by digit: a third of astype("S")'s time
        rest, digit = np.divmod(rest, 10)
        digits[:, place] = digit + ord("0")
    parameters.append(digits.tobytes())
    return f"CAST(substr(?, i * {width} + 1, {width}) AS INTEGER)"


INSTANT_TEXT = "2022-03-08 00:16:00.000000"  # how SQLAlchemy's DateTime stores one on SQLite


def _instant_texts(seconds: np.ndarray) -> bytes:
    """Epoch seconds as INSTANT_TEXT, end to end: dates and times of day looked up in small
    tables (several times faster than strftime row by row, in numpy or in SQLite)."""
    day, second = np.divmod(np.asarray(seconds, dtype=np.int64), 86_400)
    days, which = np.unique(day, return_inverse=True)
    epoch = date(1970, 1, 1).toordinal()
    dates = np.array([date.fromordinal(epoch + int(d)).isoformat().encode() for d in days])
    out = np.empty((len(day), len(INSTANT_TEXT)), dtype=np.uint8)
    out[:, :10] = dates.view(np.uint8).reshape(-1, 10)[which]
    out[:, 10] = ord(" ")
    out[:, 11:19] = _times_of_day()[second]
    out[:, 19:] = np.frombuffer(INSTANT_TEXT[19:].encode(), dtype=np.uint8)
    return out.tobytes()


@cache
def _times_of_day() -> np.ndarray:
    """HH:MM:SS for every second of a day, as rows of bytes."""
    text = "".join(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400))
    return np.frombuffer(text.encode(), dtype=np.uint8).reshape(86_400, 8)


def _unpacking(values: ColumnValues, parameters: list[Any]) -> str:
    """The SQL expression that cuts row i's value out of its column's parameters."""
    if isinstance(values, Coded):
        code = _integers(values.codes, parameters)
        parameters.extend(values.values)
        return f"CASE {code} {' '.join(f'WHEN {n} THEN ?' for n in range(len(values.values)))} END"
    if isinstance(values, Instants):
        parameters.append(_instant_texts(values.seconds))
        width = len(INSTANT_TEXT)
        return f"CAST(substr(?, i * {width} + 1, {width}) AS TEXT)"
    if isinstance(values, Days):
        days = values.days.astype("datetime64[D]").astype(np.int64)
        return f"date({_integers(days, parameters)} * 86400, 'unixepoch')"
    if isinstance(values, np.ndarray) and values.dtype.kind == "S":
        # Bytes of one width (ids): the array's own buffer is the blob.
        if values.dtype.itemsize and (np.char.str_len(values) == values.dtype.itemsize).all():
            width = values.dtype.itemsize
            parameters.append(values.tobytes())
            return f"CAST(substr(?, i * {width} + 1, {width}) AS TEXT)"
        return _strings([v.decode() for v in values.tolist()], parameters)
    if isinstance(values, np.ndarray) and values.dtype != object:
        return _integers(values, parameters)
    if isinstance(values, np.ndarray | list | tuple):
        return _strings(list(values), parameters)
    if isinstance(values, datetime):  # one instant for every row, as UTCDateTime stores it
        values = values.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    parameters.append(values)
    return "?"


def _strings(values: Sequence[str | bytes | None], parameters: list[Any]) -> str:
    """End to end in one blob, cut out by offset and length (NULL for None)."""
    texts = isinstance(next((v for v in values if v is not None), ""), str)
    encoded = [b"" if v is None else v.encode() if isinstance(v, str) else v for v in values]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    nulls = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    parameters.append(b"".join(encoded))
    if len(lengths) and not nulls.any() and (lengths == lengths[0]).all():
        width = int(lengths[0]) or 1
        cut = f"substr(?, i * {width} + 1, {int(lengths[0])})"  # all of one length (ids)
    else:
        offsets = np.cumsum(lengths) - lengths
        cut = (
            f"substr(?, {_integers(offsets, parameters)} + 1, "
            f"{_integers(np.ma.MaskedArray(lengths, mask=nulls), parameters)})"
        )
    return f"CAST({cut} AS TEXT)" if texts else cut


def _python_column(values: ColumnValues, count: int) -> list[Any]:
    """A column as Python values, for COPY."""
    if isinstance(values, Coded):
        return [values.values[code] for code in values.codes.tolist()]
    if isinstance(values, Instants):
        return [datetime.fromtimestamp(s, UTC) for s in values.seconds.tolist()]
    if isinstance(values, Days):
        days: list[date] = values.days.astype("datetime64[D]").tolist()
        return days
    if isinstance(values, np.ndarray) and values.dtype.kind == "S":
        return [v.decode() for v in values.tolist()]
    if isinstance(values, np.ma.MaskedArray):
        masked = np.ma.getmaskarray(values).tolist()
        return [None if m else v for v, m in zip(values.data.tolist(), masked, strict=True)]
    if isinstance(values, np.ndarray):
        return list(values.tolist())
    if isinstance(values, list | tuple):
        return list(values)
    return [values] * count


# --- migrations ---------------------------------------------------------------
# Alembic is imported only where a schema is made or checked: every command and worker
# would otherwise pay half a second for it at start-up.


def alembic_config(url: str, connection: Any = None) -> Config:
    """An Alembic configuration that needs no alembic.ini (the scripts ship in the package)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "placecode:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; migrations are the only way a schema is made."""
    from alembic import command

    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        if sqlite:
            # Batch migrations rebuild a table by copying it; with foreign keys enforced,
            # dropping the old copy of a table others refer to would fail. They are checked
            # as a whole before the migration commits instead.
            raw.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with connection.begin():
                command.upgrade(alembic_config(str(engine.url), connection), revision)
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise RuntimeError("The migration left rows whose foreign keys point nowhere.")
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_partition(name: str | None) -> bool:
    """Day partitions of the check-ins (PostgreSQL): made at run time, not by migrations."""
    return bool(name) and str(name).startswith("checkins_p") and str(name)[10:].isdigit()


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    return not (type_ == "table" and is_partition(name))


def schema_drift(engine: Engine) -> list[Any]:
    """Differences between the models and the migrated database (empty when in step)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    metadata = load_all_models()
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "render_as_batch": True,
                "include_object": include_object,
            },
        )
        return list(compare_metadata(context, metadata))


Item = TypeVar("Item")
IN_LIST = 500  # values per IN (...): well inside SQLite's and PostgreSQL's parameter limits


def in_chunks(items: Sequence[Item], size: int = IN_LIST) -> Iterator[Sequence[Item]]:
    """Consecutive slices of `items`, for lookups by a long list of keys."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
