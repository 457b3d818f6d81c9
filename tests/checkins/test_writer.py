"""The group-commit writer's own process: what goes over its socket, one process however
many scans start it at once, and a shutdown that writes what is queued before it goes."""

import asyncio
import dataclasses
import fcntl
import os
import pickle
import resource
import sys
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select

from placecode.checkins.models import CheckIn
from placecode.checkins.store import Stored, UnknownPerson, Visit
from placecode.checkins.writer import (
    RESTARTS,
    Order,
    ProcessWriter,
    ThreadWriter,
    in_callers_language,
    make_writer,
    packed,
    unpacked,
)
from placecode.checkins.writer_process import batches, frame, unframe
from placecode.clock import clock
from placecode.config import Settings
from placecode.db import Database
from placecode.errors import PlaceCodeError, TooManyRequests, Unavailable
from placecode.i18n import use_locale
from placecode.people import sealing
from placecode.people.documents import DocType, Document
from placecode.people.service import PersonDetails, person_key_of
from placecode.venues.models import Venue
from tests.checkins.test_durability import set_up_district, writes_blocked
from tests.conftest import Databases, prepare

T = TypeVar("T")


def a_visit(**changes: Any) -> Visit:
    visit = Visit(
        person_key="k" * 32,
        venue_id="V0001",
        scanned_at=1_764_000_000,
        channel="wechat",
        colour="yellow",
        entry_allowed=False,
        details=PersonDetails(Document(DocType.passport, "E12345678"), "Ann Lee", "+8613800138000"),
        companion_of="g" * 32,
        recorded_by="registrar-1",
        checkout_at=1_764_000_600,
    )
    return dataclasses.replace(visit, **changes)


def test_an_order_crosses_to_the_writer_unchanged() -> None:
    full = a_visit()
    # Every field set apart from its default, so a field added to Visit and forgotten by
    # `packed` fails here.
    defaults = Visit("", "", 0, "", "", True)
    assert all(
        getattr(full, f.name) != getattr(defaults, f.name) for f in dataclasses.fields(Visit)
    )
    order = Order([full, a_visit(details=None, companion_of=None, checkout_at=None)], 300)
    assert unpacked(pickle.loads(pickle.dumps(packed(order)))) == order  # noqa: S301


def test_errors_cross_with_their_kind_code_and_headers() -> None:
    for error in (
        Unavailable("busy", retry_after=3, code="overloaded"),
        TooManyRequests("slow down", retry_after=60),
        UnknownPerson("This person is not registered; please sign in again."),
    ):
        crossed = pickle.loads(pickle.dumps(error))  # noqa: S301
        assert type(crossed) is type(error)
        assert crossed.__dict__ == error.__dict__
        assert str(crossed) == str(error)


def test_the_writers_english_reaches_the_caller_in_their_language() -> None:
    error = UnknownPerson("This person is not registered; please sign in again.")
    with use_locale("zh_CN"):
        translated = in_callers_language(error)
    assert translated.message == "此人尚未登记，请重新登录。"
    assert error.message.startswith("This person")  # the writer's own copy is left alone


def test_messages_are_framed_whole_however_the_bytes_arrive() -> None:
    stream = frame({"a": 1}) + frame([2, 3]) + frame("four")
    buffer = bytearray()
    received = []
    for start in range(0, len(stream), 5):  # five bytes at a time
        buffer += stream[start : start + 5]
        received += unframe(buffer)
    assert received == [{"a": 1}, [2, 3], "four"]
    assert not buffer


def test_batches_hold_at_most_the_limit_and_a_big_job_goes_alone() -> None:
    def job(job_id: int, size: int) -> tuple[int, Order]:
        return (job_id, Order([a_visit()] * size, 300))

    cut = batches([job(1, 2), job(2, 2), job(3, 7), job(4, 1), job(5, 1)], limit=4)
    assert [[job_id for job_id, _order in batch] for batch in cut] == [[1, 2], [3], [4, 5]]
    assert batches([], limit=4) == []  # nothing to write, not an empty transaction


def test_a_database_only_this_process_sees_is_written_from_a_thread(
    make_settings: Callable[..., Settings], databases: Databases
) -> None:
    memory = make_settings(database_url="sqlite://")
    assert isinstance(make_writer(memory, Database.connect(memory)), ThreadWriter)
    on_disk = make_settings(database_url=databases.new_url())
    database = Database.connect(on_disk)
    assert isinstance(make_writer(on_disk, database), ProcessWriter)
    asked = on_disk.model_copy(update={"writer_process": False})
    assert isinstance(make_writer(asked, database), ThreadWriter)
    database.dispose()


class District:
    """A committed database with one venue, and visits to it by new people."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        sealing.init_authority(settings)
        self.database = Database.connect(settings)
        prepare(self.database.engine)
        set_up_district(self.database, settings)
        with self.database.session() as session:
            self.venue_id = session.scalars(select(Venue.id)).one()
        self.now = int(clock.now().timestamp())

    def visit(self, number: int) -> Visit:
        document = Document(DocType.passport, f"W{number:08d}")
        return Visit(
            person_key=person_key_of(self.settings, document),
            venue_id=self.venue_id,
            scanned_at=self.now,
            channel="wechat",
            colour="green",
            entry_allowed=True,
            details=PersonDetails(document, f"Writer {number}", None),
        )

    def check_ins(self) -> int | None:
        with self.database.session() as session:
            return session.scalar(select(func.count()).select_from(CheckIn))


def run_apart(scenario: Coroutine[Any, Any, T]) -> T:
    """Run a scenario on a loop in a thread of its own (Playwright's fixtures may keep a
    loop running on this one)."""
    with ThreadPoolExecutor(max_workers=1) as apart:
        return apart.submit(asyncio.run, scenario).result()


def test_one_process_writes_for_scans_that_start_it_together_and_stop_drains_it(
    make_settings: Callable[..., Settings], databases: Databases
) -> None:
    settings = make_settings(database_url=databases.new_url(), writer_batch_max=8)
    district = District(settings)
    visit = district.visit

    async def scenario() -> tuple[list[list[Stored]], list[list[Stored]], int | None, int | None]:
        writer = ProcessWriter(settings)
        restarts = RESTARTS._value.get()
        # Not started: the first scans start it, all at once.
        first = await asyncio.gather(
            *(writer.submit([visit(n)], window_seconds=300) for n in range(20))
        )
        assert RESTARTS._value.get() == restarts  # one process, started once
        pid = writer.process_id
        # Queued, then the server stops: they are written before it goes.
        queued = [
            asyncio.create_task(writer.submit([visit(n)], window_seconds=300))
            for n in range(20, 50)
        ]
        await asyncio.sleep(0)
        await writer.stop()
        drained = await asyncio.gather(*queued)
        assert writer._process is not None
        return (
            [[s for s in r if isinstance(s, Stored)] for r in first],
            [[s for s in r if isinstance(s, Stored)] for r in drained],
            pid,
            writer._process.poll(),
        )

    first, drained, pid, exit_code = run_apart(scenario())
    stored = [item for result in first + drained for item in result]
    assert len(stored) == 50
    assert not any(item.duplicate for item in stored)
    assert len({item.check_in_id for item in stored}) == 50
    assert pid is not None
    assert exit_code == 0  # it ended by itself once its input ended
    assert district.check_ins() == 50
    district.database.dispose()


def test_a_logbook_bigger_than_the_queue_is_written_whole_and_one_at_a_time(
    make_settings: Callable[..., Settings], databases: Databases
) -> None:
    """The queue's bound is for scans: a logbook of more rows than it holds goes in whole
    (in one transaction), a second logbook meanwhile is told to try again, and scans are
    taken as before."""
    url = databases.new_url()
    settings = make_settings(
        database_url=url, writer_queue_max=5, writer_batch_max=8, sqlite_busy_timeout_ms=60_000
    )
    district = District(settings)
    visit = district.visit

    async def scenario() -> tuple[Unavailable, list[Stored | PlaceCodeError], list[Any]]:
        writer = ProcessWriter(settings)
        await writer.start()
        with writes_blocked(url):  # the logbook waits in the queue until this ends
            book = asyncio.ensure_future(
                writer.submit([visit(n) for n in range(12)], window_seconds=0, logbook=True)
            )
            await asyncio.sleep(0.5)
            with pytest.raises(Unavailable) as busy:
                await writer.submit([visit(50)], window_seconds=0, logbook=True)
            scan = asyncio.ensure_future(writer.submit([visit(100)], window_seconds=300))
            await asyncio.sleep(0.2)
            assert not (book.done() or scan.done())
        results = await asyncio.wait_for(asyncio.gather(book, scan), timeout=60)
        after = await writer.submit([visit(51)], window_seconds=0, logbook=True)  # free again
        await writer.stop()
        return busy.value, results[0], [*results[1], *after]

    busy, book, others = run_apart(scenario())
    assert (busy.code, busy.headers["Retry-After"]) == ("logbook_busy", "5")
    assert len(book) == 12 and all(isinstance(s, Stored) and not s.duplicate for s in book)
    assert all(isinstance(s, Stored) for s in others)
    assert district.check_ins() == 14
    district.database.dispose()


def test_writers_of_one_sqlite_file_take_turns_on_its_lock_file(
    make_settings: Callable[..., Settings], databases: Databases
) -> None:
    """The writer takes the lock file before each batch (on SQLite, whatever the backend
    under test), and writes as soon as another writer lets it go."""
    settings = make_settings(database_url=databases.new_url("sqlite"))
    district = District(settings)
    lock_path = f"{district.database.engine.url.database}-writers.lock"

    async def scenario() -> tuple[bool, list[Stored | PlaceCodeError]]:
        writer = ProcessWriter(settings)
        await writer.start()
        with open(lock_path, "a+b") as other:  # another worker's writer, mid-batch
            fcntl.flock(other, fcntl.LOCK_EX)
            scan = asyncio.ensure_future(writer.submit([district.visit(1)], window_seconds=300))
            await asyncio.sleep(1.0)
            waited = not scan.done()
            fcntl.flock(other, fcntl.LOCK_UN)
        result = await asyncio.wait_for(scan, timeout=20)
        await writer.stop()
        return waited, result

    waited, result = run_apart(scenario())
    assert waited  # nothing was written while the other writer held its turn
    assert isinstance(result[0], Stored)
    assert district.check_ins() == 1
    district.database.dispose()


def test_a_writer_process_that_cannot_start_is_a_503(
    make_settings: Callable[..., Settings], databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(database_url=databases.new_url())
    monkeypatch.setattr(sys, "executable", "/nowhere/python")

    async def scenario() -> Unavailable:
        writer = ProcessWriter(settings)
        try:
            with pytest.raises(Unavailable) as refused:
                await writer.submit([a_visit()], window_seconds=300)
        finally:
            await writer.stop()
        return refused.value

    refused = run_apart(scenario())
    assert (refused.code, refused.headers["Retry-After"]) == ("write_failed", "1")


def test_the_writer_process_works_past_descriptor_1024(
    make_settings: Callable[..., Settings], databases: Databases
) -> None:
    """A busy server's socket pair can get a descriptor number past 1024, which the
    process keeps; select() cannot wait on it, poll() can."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard >= 2048, f"this test needs a descriptor limit of 2048 or more, not {hard}"
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    settings = make_settings(database_url=databases.new_url())
    district = District(settings)
    filler: list[int] = []
    try:
        while not filler or filler[-1] < 1100:
            filler.append(os.dup(0))

        async def scenario() -> tuple[int, list[Stored | PlaceCodeError]]:
            writer = ProcessWriter(settings)
            await writer.start()
            assert writer._link is not None and writer._link.transport is not None
            number = writer._link.transport.get_extra_info("socket").fileno()
            result = await writer.submit([district.visit(7)], window_seconds=300)
            await writer.stop()
            return number, result

        number, result = run_apart(scenario())
    finally:
        for descriptor in filler:
            os.close(descriptor)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert number > 1024
    assert isinstance(result[0], Stored)
    assert district.check_ins() == 1
    district.database.dispose()
