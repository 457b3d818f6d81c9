"""Fixtures for every test: a real database, each test inside a transaction that is
rolled back, the app bound to it, and personas for every role.

PLACECODE_TEST_BACKEND picks the database under test (sqlite, the default, or
postgresql); PLACECODE_TEST_POSTGRES_URL names a PostgreSQL server to make databases on.
`./scripts/test` starts a throwaway server and runs the suite once for each backend.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from hypothesis import settings as hypothesis_settings
from playwright.sync_api import expect
from sqlalchemy import Connection, Engine, func, make_url, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from placecode import db
from placecode.accounts import service as accounts
from placecode.accounts.models import Role, User
from placecode.accounts.service import Operator
from placecode.clock import clock
from placecode.config import Settings, load_settings
from placecode.people import identity, sealing
from placecode.region import service as region
from placecode.venues import certificates
from placecode.venues import service as venues
from placecode.venues.models import Organisation, OrganisationKind, Venue
from placecode.web.app import create_app

BACKEND = os.environ.get("PLACECODE_TEST_BACKEND", "sqlite")
SERVER_URL = os.environ.get("PLACECODE_TEST_POSTGRES_URL", "")
PASSWORD = "correct horse battery staple"
CHROMIUM = "/usr/bin/chromium"


# Generated examples are the same on every run, so CI is reproducible; set
# HYPOTHESIS_PROFILE=explore to search afresh.
hypothesis_settings.register_profile("placecode", derandomize=True, deadline=None)
hypothesis_settings.register_profile("explore", deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "placecode"))


def pytest_report_header() -> str:
    return f"placecode database backend: {BACKEND}"


# --- databases -----------------------------------------------------------------------


class Databases:
    """Makes empty databases of the backend under test and removes them afterwards."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.created: list[str] = []

    def new_url(self, backend: str = BACKEND) -> str:
        """An empty database of `backend` (by default the one under test)."""
        name = f"placecode_test_{secrets.token_hex(4)}"
        if backend == "sqlite":
            return f"sqlite:///{self.workdir / (name + '.db')}"
        with self._admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        url = make_url(SERVER_URL).set(drivername="postgresql+psycopg", database=name)
        return url.render_as_string(hide_password=False)

    def _admin(self) -> psycopg.Connection[Any]:
        if not SERVER_URL:
            pytest.fail(
                "PLACECODE_TEST_POSTGRES_URL is not set: this test needs a PostgreSQL server "
                "(./scripts/test starts one)",
                pytrace=False,
            )
        url = make_url(SERVER_URL).set(drivername="postgresql")
        try:
            return psycopg.connect(
                url.set(database="postgres").render_as_string(hide_password=False),
                autocommit=True,
            )
        except psycopg.OperationalError as exc:
            pytest.fail(f"PostgreSQL at {SERVER_URL} cannot be reached: {exc}", pytrace=False)

    def drop_all(self) -> None:
        if not self.created:
            return
        with self._admin() as connection:
            for name in self.created:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    made = Databases(tmp_path_factory.mktemp("databases"))
    yield made
    made.drop_all()


@pytest.fixture(scope="session")
def make_settings(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Settings]:
    """Settings for tests: cheapest argon2, keys in a temp dir, the given database."""
    key_dir = tmp_path_factory.mktemp("keys")

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "env": "test",
            "key_dir": key_dir,
            "secret_key": "test-secret-key-" + "x" * 32,
            "pepper": "test-pepper-" + "y" * 32,
            "public_base_url": "https://placecode.test",
            "argon2_time_cost": 1,
            "argon2_memory_kib": 8,
            "argon2_parallelism": 1,
            "log_level": "WARNING",
            "cache_poll_seconds": 0,  # one process: see every change at once
            "scheduler": False,  # scheduled jobs are run by the tests that test them
        }
        values.update(overrides)
        return load_settings(**values)

    return make


def prepare(engine: Engine) -> None:
    """Migrate an empty database and load the packaged region, as `placecode init` does."""
    db.upgrade(engine)
    with sessionmaker(engine)() as session, session.begin():
        region.load_region(
            session=session, data=region.read_region_file(region.packaged_region_path())
        )


@pytest.fixture(scope="session")
def settings(databases: Databases, make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(database_url=databases.new_url())


@pytest.fixture(scope="session")
def demo_ca(settings: Settings) -> Path:
    """The local CA in the test key directory (what `placecode ca init` makes)."""
    return certificates.init_ca(settings)


@pytest.fixture(scope="session")
def authority(settings: Settings) -> tuple[Path, Path]:
    """The health authority's key pair (what `placecode init` makes for the demo)."""
    return sealing.init_authority(settings)


@pytest.fixture(scope="session")
def engine(settings: Settings, authority: tuple[Path, Path]) -> Iterator[Engine]:
    engine = db.make_engine(settings)
    prepare(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back when the test ends."""
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    with Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as session:
        yield session


@pytest.fixture(autouse=True)
def _clock_restored() -> Iterator[None]:
    yield
    clock.reset()


# --- the app -------------------------------------------------------------------------


@pytest.fixture
def app(settings: Settings, engine: Engine, connection: Connection) -> FastAPI:
    """The app, its every request a savepoint inside the test's transaction."""
    database = db.Database(
        engine=engine,
        sessions=sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ),
    )
    return create_app(settings, database)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://placecode.test") as test_client:
        yield test_client


# --- personas ------------------------------------------------------------------------


@dataclass
class Persona:
    user: User
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_persona(
    session: Session,
    settings: Settings,
    username: str,
    role: Role,
    scope: str | None = None,
    password: str | None = PASSWORD,
) -> Persona:
    user = accounts.create_user(
        session=session,
        settings=settings,
        actor=Operator(),
        username=username,
        role=role,
        scope=scope,
        display_name=username.title(),
        password=None if role is Role.sentinel else password,
    )
    _token, secret = accounts.create_api_token(
        session=session, settings=settings, actor=Operator(), user=user, name="test"
    )
    session.flush()
    return Persona(user=user, token=secret)


def make_organisation(
    session: Session,
    name: str,
    kind: OrganisationKind,
    uscc: str,
    street: str | None = None,
    verified: bool = True,
) -> Organisation:
    """An organisation row as if it had applied with its certificate (no crypto needed)."""
    organisation = Organisation(
        id=venues.new_organisation_id(),
        name=name,
        kind=kind.value,
        uscc=uscc,
        street_code=street,
        verified_at=clock.now() if verified else None,
        created_at=clock.now(),
        created_by="test",
    )
    session.add(organisation)
    session.flush()
    return organisation


def count(session: Session, model: type) -> int:
    """How many rows a model's table holds."""
    return session.scalar(select(func.count()).select_from(model)) or 0


def make_venue(
    session: Session,
    name: str,
    street: str,
    category: str,
    organisation: Organisation | None = None,
    address: str | None = None,
) -> Venue:
    now = clock.now()
    found = region.get_street(session=session, code=street)
    venue = Venue(
        id=venues.new_venue_id(),
        name=name,
        address=address or f"{found.name_zh}{name}路1号",
        street_code=street,
        category_code=category,
        lon=found.centroid_lon,
        lat=found.centroid_lat,
        organisation_id=organisation.id if organisation else None,
        operator_name=None if organisation else name,
        delegated=organisation is None,
        status="active",
        code_version=1,
        natural_key=venues.natural_key(name, address or f"{found.name_zh}{name}路1号"),
        registered_by="test",
        created_at=now,
        updated_at=now,
    )
    session.add(venue)
    session.flush()
    return venue


@pytest.fixture
def market_operator(session: Session) -> Organisation:
    """The verified company that runs 真南农副产品综合市场 (a managing organisation)."""
    return make_organisation(
        session,
        "真南市场经营管理有限公司",
        OrganisationKind.market_operator,
        "91350100M000100Y43",
        "zhenruzhen",
    )


@pytest.fixture
def zhennan_market(session: Session, market_operator: Organisation) -> Venue:
    return make_venue(
        session,
        "真南农副产品综合市场",
        "zhenruzhen",
        "wet_market",
        market_operator,
        "真南路822弄128号",
    )


@pytest.fixture
def changfeng_shop(session: Session) -> Venue:
    """A shop in 长风新村 registered on its behalf (no organisation of its own)."""
    return make_venue(session, "长风小吃店", "changfengxincun", "restaurant")


@pytest.fixture
def district_admin(session: Session, settings: Settings) -> Persona:
    return make_persona(session, settings, "dora", Role.district_admin)


@pytest.fixture
def street_admin(session: Session, settings: Settings) -> Persona:
    """The street admin of 长风新村街道."""
    return make_persona(session, settings, "chang", Role.street_admin, "changfengxincun")


@pytest.fixture
def regulator(session: Session, settings: Settings) -> Persona:
    """A regulator of the district commerce commission (区商务委)."""
    return make_persona(session, settings, "shang", Role.regulator, "commerce")


@pytest.fixture
def venue_manager(session: Session, settings: Settings, market_operator: Organisation) -> Persona:
    """The venue manager of the market operator."""
    return make_persona(session, settings, "vera", Role.venue_manager, market_operator.id)


@pytest.fixture
def registrar(session: Session, settings: Settings, zhennan_market: Venue) -> Persona:
    """The registrar at the door of 真南 market."""
    return make_persona(session, settings, "reggie", Role.registrar, zhennan_market.id)


@pytest.fixture
def cdc_analyst(session: Session, settings: Settings) -> Persona:
    return make_persona(session, settings, "cora", Role.cdc_analyst)


@pytest.fixture
def sentinel(session: Session, settings: Settings, zhennan_market: Venue) -> Persona:
    return make_persona(session, settings, "gate-1", Role.sentinel, zhennan_market.id)


@pytest.fixture
def personas(
    district_admin: Persona,
    street_admin: Persona,
    regulator: Persona,
    venue_manager: Persona,
    registrar: Persona,
    cdc_analyst: Persona,
    sentinel: Persona,
) -> dict[Role, Persona]:
    return {
        Role.district_admin: district_admin,
        Role.street_admin: street_admin,
        Role.regulator: regulator,
        Role.venue_manager: venue_manager,
        Role.registrar: registrar,
        Role.cdc_analyst: cdc_analyst,
        Role.sentinel: sentinel,
    }


# --- a live server and a real browser -----------------------------------------------------


@dataclass
class LiveServer:
    url: str
    database: db.Database
    settings: Settings
    app: FastAPI

    def add_user(self, username: str, role: Role, scope: str | None = None) -> str:
        """Commit a user to the server's database; return their password."""
        with self.database.session() as session:
            make_persona(session, self.settings, username, role, scope)
        return PASSWORD


class _ThreadedServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test runner owns the signals
        pass


@contextmanager
def running_server(settings: Settings) -> Iterator[LiveServer]:
    """The app on a real port over a fresh committed database, for the block's duration."""
    sealing.init_authority(settings)
    database = db.Database.connect(settings)
    prepare(database.engine)
    app = create_app(settings, database)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = _ThreadedServer(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("the live server did not start within 20 s")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(
            url=f"http://127.0.0.1:{port}", database=database, settings=settings, app=app
        )
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        database.dispose()


@pytest.fixture(scope="session")
def live_server(
    databases: Databases, make_settings: Callable[..., Settings]
) -> Iterator[LiveServer]:
    """The app on a real port, over its own committed database."""
    with running_server(make_settings(database_url=databases.new_url())) as server:
        yield server


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium, quiet on a machine without internet; missing it fails loudly.

    Assertions on pages wait up to 20 s, not Playwright's 5: the two backends' suites run
    side by side on two cores, and a chart page parses plotly.js (4.8 MB) first. CI once
    drew a chart just after the 5 s were up.
    """
    expect.set_options(timeout=20_000)
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail(
            f"{CHROMIUM} is missing: page tests need Debian's chromium (the test command "
            "installs it)",
            pytrace=False,
        )
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


# --- citizens --------------------------------------------------------------------------------


def sign_in_citizen(
    client: TestClient,
    doc_number: str = "11010519491231002X",
    name: str = "王秀英",
    phone: str = "13812345678",
    doc_type: str = "id_card",
) -> str:
    """A citizen signs in through the demo identity provider; returns their person token."""
    started = client.post(
        "/api/v1/citizens/sign-in",
        json={"doc_type": doc_type, "doc_number": doc_number, "name": name, "phone": phone},
    )
    assert started.status_code == 201, started.text
    body = started.json()
    confirmed = client.post(
        f"/api/v1/citizens/sign-in/{body['sign_in_id']}", json={"code": body["demo_code"]}
    )
    assert confirmed.status_code == 200, confirmed.text
    token: str = confirmed.json()["token"]
    return token


@pytest.fixture
def wechat(session: Session) -> Ed25519PrivateKey:
    """WeChat's front end as an accepted issuer; its private key signs person tokens."""
    key = Ed25519PrivateKey.generate()
    identity.add_issuer(
        session=session, name="wechat", channel="wechat", public_key=key.public_key()
    )
    session.flush()
    return key
