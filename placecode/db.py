"""Engine, sessions and migrations: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import Dialect
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
    return create_engine(
        url, pool_size=settings.db_pool_size, max_overflow=settings.db_pool_size, pool_pre_ping=True
    )


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


@dataclass
class Database:
    """One engine and its session factory, owned by the app or the command that made it."""

    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def connect(cls, settings: Settings, url: str | None = None) -> Database:
        engine = make_engine(settings, url)
        return cls(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))

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
            for pragma in ("foreign_keys=OFF", "journal_mode=OFF", "synchronous=OFF"):
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


class DriverSql:
    """Plain SQL through the driver, for the hot paths (the check-in writer, bulk loads):
    SQLAlchemy's statement machinery costs more there than the statements themselves."""

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self.sqlite = self.connection.dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"

    def marks(self, count: int) -> str:
        return ", ".join([self.mark] * count)

    def timestamp(self, moment: datetime) -> Any:
        """A UTC instant as the UTCDateTime columns store it."""
        moment = moment.astimezone(UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else moment

    def all(self, statement: str, parameters: Sequence[Any] = ()) -> list[Any]:
        return list(self.connection.exec_driver_sql(statement, tuple(parameters)).fetchall())

    def tuples(self, statement: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Plain tuples straight from the driver's cursor (for numpy, many rows at once)."""
        cursor = self.connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(statement, tuple(parameters))
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def many(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.connection.exec_driver_sql(statement, [tuple(row) for row in rows])

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Bulk insert: COPY on PostgreSQL (one round trip), executemany on SQLite. Table and
        column names are the caller's constants, never input."""
        if not rows:
            return
        names = ", ".join(columns)
        if not self.sqlite:
            cursor = self.connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        self.many(f"INSERT INTO {table} ({names}) VALUES ({self.marks(len(columns))})", rows)  # noqa: S608


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
