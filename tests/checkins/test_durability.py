"""The group-commit writer under stress: an overloaded writer answers 503 and keeps its
queue bounded; a server killed mid-load has every acknowledged check-in on disk."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, make_url, select

from placecode.accounts.models import Role
from placecode.accounts.principal import Principal
from placecode.checkins.models import CheckIn
from placecode.checkins.writer import ProcessWriter
from placecode.clock import clock
from placecode.config import Settings, load_settings
from placecode.db import Database
from placecode.people import identity
from placecode.people.identity import external_token
from placecode.signing import Keyring
from placecode.venues import service as venues
from placecode.venues.codes import CodeBook
from placecode.venues.schemas import VenueCreate
from tests.conftest import BACKEND, Databases, running_server

PLACECODE = str(Path(sys.executable).parent / "placecode")
ADMIN = Principal(0, "test", "test", Role.district_admin, None, "cli")


def set_up_district(database: Database, settings: Settings) -> tuple[str, Ed25519PrivateKey]:
    """A venue and an accepted issuer, committed: returns the venue's code and the issuer key."""
    issuer = Ed25519PrivateKey.generate()
    with database.session() as session:
        venue = venues.register_venue(
            session=session,
            principal=ADMIN,
            data=VenueCreate(
                name="压力测试店",
                address="测试路1号",
                street="taopu",
                category="shop",
                operator_name="压力测试店",
            ),
        )
        identity.add_issuer(
            session=session, name="wechat", channel="wechat", public_key=issuer.public_key()
        )
        token = CodeBook(settings, Keyring(settings)).issue(session=session, venue=venue)
    return token, issuer


def person_tokens(issuer: Ed25519PrivateKey, count: int) -> list[str]:
    expires = clock.now() + timedelta(hours=1)
    return [
        external_token(
            issuer,
            issuer="wechat",
            doc_type="passport",
            doc_number=f"L{i:08d}",
            name=f"Load {i}",
            phone=None,
            expires=expires,
        )
        for i in range(count)
    ]


@contextmanager
def writes_blocked(url: str) -> Iterator[None]:
    """Hold the write lock the writer needs, as a long transaction of another program would."""
    if url.startswith("sqlite"):
        lite = sqlite3.connect(make_url(url).database or "", isolation_level=None)
        lite.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            lite.execute("ROLLBACK")
            lite.close()
    else:
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(plain) as blocker:
            blocker.execute("LOCK TABLE checkins IN EXCLUSIVE MODE")
            yield
            blocker.rollback()


def scan_at(base: str, code: str, token: str, *, timeout: float) -> httpx.Response:
    """A citizen's scan of the venue `code`, through the check-in API."""
    return httpx.post(
        f"{base}/api/v1/checkins",
        json={"venue_code": code},
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
    )


def metric(base: str, name: str) -> float:
    for line in httpx.get(f"{base}/metrics").text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def stored_ids(url: str, ids: list[int]) -> set[int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            found: set[int] = set()
            for start in range(0, len(ids), 500):
                found |= set(
                    connection.scalars(
                        select(CheckIn.id).where(CheckIn.id.in_(ids[start : start + 500]))
                    )
                )
            return found
    finally:
        engine.dispose()


def test_an_overloaded_writer_answers_503_and_loses_nothing_acknowledged(
    databases: Databases, make_settings: Callable[..., Settings]
) -> None:
    url = databases.new_url()
    settings = make_settings(
        database_url=url,
        writer_queue_max=20,
        writer_batch_max=5,
        sqlite_busy_timeout_ms=60_000,
        scan_max_venues_per_minute=1000,
    )
    with running_server(settings) as server:
        code, issuer = set_up_district(server.database, settings)
        tokens = person_tokens(issuer, 120)
        depth_seen: list[float] = []

        def scan(token: str) -> httpx.Response:
            return scan_at(server.url, code, token, timeout=120)

        with ThreadPoolExecutor(max_workers=60) as pool:
            with writes_blocked(url):
                futures = [pool.submit(scan, token) for token in tokens]
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and sum(f.done() for f in futures) < 100:
                    depth_seen.append(metric(server.url, "placecode_writer_queue_depth"))
                    time.sleep(0.1)
                depth_seen.append(metric(server.url, "placecode_writer_queue_depth"))
                refused_while_blocked = sum(
                    1 for f in futures if f.done() and f.result().status_code == 503
                )
            responses = [f.result() for f in futures]  # the lock is gone: the queue drains

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 503}, statuses
    refused = [r for r in responses if r.status_code == 503]
    assert refused_while_blocked >= 80  # the queue filled, and the rest were turned away at once
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
    assert refused[0].json()["error"] == "overloaded"
    assert max(depth_seen) <= settings.writer_queue_max  # memory stays bounded by the queue
    acknowledged = [r.json()["people"][0]["check_in_id"] for r in responses if r.status_code == 201]
    assert 0 < len(acknowledged) <= settings.writer_queue_max
    assert stored_ids(url, acknowledged) == set(acknowledged)


def writer_state(writer: ProcessWriter) -> str:
    """What a process writer holds, and what its process is doing (for a failure)."""
    pid = writer.process_id
    try:
        status = Path(f"/proc/{pid}/status").read_text().split("\n")[:3]
        wchan = Path(f"/proc/{pid}/wchan").read_text()
        locks = Path("/proc/locks").read_text()
    except OSError as error:
        status, wchan, locks = [str(error)], "", ""
    return (
        f"process {pid} {status} waiting in {wchan!r}; jobs {len(writer._jobs)}, "
        f"outbox {len(writer._outbox)}, link {writer._link is not None}; locks:\n{locks}"
    )


def test_a_killed_writer_process_fails_its_batch_and_is_replaced(
    databases: Databases, make_settings: Callable[..., Settings]
) -> None:
    """The check-ins the writer's process held when it died are answered 503, not left
    hanging, and the next check-in starts a new process."""
    url = databases.new_url()
    settings = make_settings(
        database_url=url, sqlite_busy_timeout_ms=60_000, scan_max_venues_per_minute=1000
    )
    with running_server(settings) as server:
        code, issuer = set_up_district(server.database, settings)
        tokens = person_tokens(issuer, 4)
        writer = server.app.state.writer
        assert isinstance(writer, ProcessWriter)
        doomed = writer.process_id
        assert doomed is not None
        restarts = metric(server.url, "placecode_writer_restarts_total")

        def scan(token: str) -> httpx.Response:
            return scan_at(server.url, code, token, timeout=60)

        with ThreadPoolExecutor(max_workers=3) as pool, writes_blocked(url):
            futures = [pool.submit(scan, token) for token in tokens[:3]]
            deadline = time.monotonic() + 20
            while metric(server.url, "placecode_writer_queue_depth") < 3:
                assert time.monotonic() < deadline, "the scans never reached the writer"
                time.sleep(0.05)
            os.kill(doomed, signal.SIGKILL)
            lost = [future.result(timeout=30) for future in futures]
        try:
            after = scan(tokens[3])
        except httpx.TimeoutException:
            pytest.fail(f"no answer after the restart; the writer then: {writer_state(writer)}")
        assert metric(server.url, "placecode_writer_restarts_total") == restarts + 1

    assert [r.status_code for r in lost] == [503, 503, 503]
    assert {r.json()["error"] for r in lost} == {"write_failed"}
    assert all(int(r.headers["retry-after"]) >= 1 for r in lost)
    assert after.status_code == 201, after.text
    assert writer.process_id not in (None, doomed)
    check_in_id = after.json()["people"][0]["check_in_id"]
    assert stored_ids(url, [check_in_id]) == {check_in_id}


def test_a_killed_server_keeps_every_acknowledged_check_in(
    databases: Databases, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    url = databases.new_url()
    key_dir = tmp_path / "keys"
    env = {
        **os.environ,
        "PLACECODE_DATABASE_URL": url,
        "PLACECODE_KEY_DIR": str(key_dir),
        "PLACECODE_ARGON2_TIME_COST": "1",
        "PLACECODE_ARGON2_MEMORY_KIB": "8",
        "PLACECODE_ARGON2_PARALLELISM": "1",
        "PLACECODE_SCAN_MAX_VENUES_PER_MINUTE": "1000",
        "PLACECODE_LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [PLACECODE, "init", "--password", "kill-test-password"],
        env=env,
        check=True,
        capture_output=True,
    )
    settings = load_settings(database_url=url, key_dir=key_dir)
    database = Database.connect(settings)
    code, issuer = set_up_district(database, settings)
    database.dispose()
    tokens = person_tokens(issuer, 3000)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [PLACECODE, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)

        acknowledged: list[int] = []
        lock = threading.Lock()
        position = iter(range(len(tokens)))

        def load() -> None:
            with httpx.Client(base_url=base, timeout=10) as client:
                while True:
                    with lock:
                        index = next(position, None)
                    if index is None:
                        return
                    try:
                        response = client.post(
                            "/api/v1/checkins",
                            json={"venue_code": code},
                            headers={"Authorization": f"Bearer {tokens[index]}"},
                        )
                    except httpx.TransportError:
                        return  # the server is gone
                    if response.status_code == 201:
                        with lock:
                            acknowledged.append(response.json()["people"][0]["check_in_id"])

        threads = [threading.Thread(target=load) for _ in range(16)]
        for thread in threads:
            thread.start()
        while len(acknowledged) < 200:
            time.sleep(0.01)
        server.send_signal(signal.SIGKILL)
        for thread in threads:
            thread.join(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
        server.wait(timeout=10)

    assert server.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 200
    assert len(acknowledged) < len(tokens)  # it really died mid-way
    assert stored_ids(url, acknowledged) == set(acknowledged)
    assert BACKEND in url or url.startswith("sqlite")
