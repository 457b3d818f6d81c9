"""The group-commit writer: check-ins are queued, written in batches (one transaction every
few milliseconds, or at a size limit) together with the hourly counts, and each request is
answered only after its batch is committed.

The queue is bounded: when it is full the caller gets 503 with Retry-After instead of
memory growing without limit. A logbook (an uploaded file, written whole in one batch) is
bounded apart: one at a time, however many rows it has (the upload's size bounds it), and
it does not count against the scans' bound; on PostgreSQL it is written beside the writer
instead (`write_logbook`). On shutdown the queue is drained.

Each server process has one writer. It writes from a process of its own
(`writer_process.py`) whenever the database can be opened from another process: the
server's event loop then plans the next scans while a batch is committed, on the other
core, instead of trading the interpreter lock with a writing thread (docs/benchmarks.md).
A database only this process can see (tests' transactions, an in-memory SQLite) is written
from a thread instead. Either way SQLite sees one writer per server process.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import logging
import os
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

from prometheus_client import Counter, Gauge, Histogram
from starlette.concurrency import run_in_threadpool

from placecode.checkins.store import (
    DayPartitions,
    Stored,
    Visit,
    days_of,
    make_partitions_apart,
    store_visits,
)
from placecode.checkins.writer_process import frame, unframe
from placecode.config import Settings
from placecode.db import Database, DriverSql, begin_write
from placecode.errors import PlaceCodeError, Unavailable
from placecode.i18n import _
from placecode.people.documents import DocType, Document
from placecode.people.sealing import Sealer, load_sealer
from placecode.people.service import PersonDetails

log = logging.getLogger("placecode.writer")

QUEUE_DEPTH = Gauge(
    "placecode_writer_queue_depth", "Check-ins waiting to be written", multiprocess_mode="livesum"
)
BATCH_SIZE = Histogram(
    "placecode_writer_batch_size",
    "Check-ins per committed batch",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
)
COMMIT_SECONDS = Histogram(
    "placecode_writer_commit_seconds",
    "Time to write and commit one batch",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
REFUSED = Counter("placecode_writer_refused_total", "Check-ins refused because the queue was full")
RESTARTS = Counter(
    "placecode_writer_restarts_total", "Times the writer's process was found gone and restarted"
)

Result = list[Stored | PlaceCodeError]
# What a batch's job comes to: its results, an error for all of it, or None when the
# batch failed for a reason of the server's (the caller is told to try again).
Outcome = Result | PlaceCodeError | None


@dataclass(frozen=True)
class Order:
    """Visits to be written in one go, as one request asked."""

    visits: list[Visit]
    window_seconds: int


Packed = tuple[Any, ...]
DETAILS = 6  # where a packed visit has its details: Visit's fields, in order


def packed(order: Order) -> Packed:
    """The order as plain values, for the writer's process: packed and pickled, one job
    took 2.0 µs against 7.8 as the dataclasses it is made of, eight 10.8 against 14.4."""
    return (
        [
            (
                v.person_key,
                v.venue_id,
                v.scanned_at,
                v.channel,
                v.colour,
                v.entry_allowed,
                None
                if v.details is None
                else (
                    v.details.document.doc_type.value,
                    v.details.document.number,
                    v.details.name,
                    v.details.phone,
                ),
                v.companion_of,
                v.recorded_by,
                v.checkout_at,
            )
            for v in order.visits
        ],
        order.window_seconds,
    )


def unpacked(values: Packed) -> Order:
    rows, window_seconds = values
    visits = []
    for row in rows:
        fields = list(row)
        if fields[DETAILS] is not None:
            doc_type, number, name, phone = fields[DETAILS]
            fields[DETAILS] = PersonDetails(Document(DocType(doc_type), number), name, phone)
        visits.append(Visit(*fields))
    return Order(visits, window_seconds)


@dataclass
class _Job:
    order: Order
    future: asyncio.Future[Outcome] = field(repr=False)
    logbook: bool = False

    @property
    def size(self) -> int:
        return len(self.order.visits)


def not_saved() -> Unavailable:
    """What the caller of a write that failed for a reason of the server's is told."""
    return Unavailable(
        _("The check-in could not be saved just now; try again."),
        retry_after=1,
        code="write_failed",
    )


def write_batch(
    *,
    database: Database,
    settings: Settings,
    sealer: Sealer,
    orders: Sequence[Order],
    partitions: DayPartitions | None = None,
) -> list[Result]:
    """Write the orders in one transaction, returning each one's results; then give a new
    day's partition its first statistics. A writer passes its own `partitions`, which
    remember what it found (without, nothing is remembered past this batch).

    Orders of one dedupe window (all the scans; a logbook has its own) are written in one
    go, whatever their channels: people first seen here are registered with their visit's
    channel as their source. On PostgreSQL the batch takes three round trips (psycopg's
    BEGIN, the batch's reads, its writes with the commit; `DriverSql.together`), more on a
    day not yet found made."""
    groups: dict[int, list[int]] = defaultdict(list)
    for position, order in enumerate(orders):
        groups[order.window_seconds].append(position)
    results: list[Result] = [[] for _ in orders]
    days = days_of(visit for order in orders for visit in order.visits)
    partitions = partitions or DayPartitions()  # a writer's own knows more
    with database.sessions() as session:
        begin_write(session)
        try:
            with DriverSql(session).together(then_commit=True):
                partitions.ensure(session, days)
                for window, positions in groups.items():
                    visits = [visit for position in positions for visit in orders[position].visits]
                    stored = store_visits(
                        session=session,
                        settings=settings,
                        sealer=sealer,
                        visits=visits,
                        window_seconds=window,
                        partitions_made=True,
                    )
                    offset = 0
                    for position in positions:
                        count = len(orders[position].visits)
                        results[position] = stored[offset : offset + count]
                        offset += count
            session.commit()  # on PostgreSQL, sent with the writes above
        except Exception:
            partitions.forget()
            raise
        try:
            partitions.written(session, (visit for order in orders for visit in order.visits))
        except Exception:  # the batch is committed: its answers stand
            log.exception("a new partition could not be analyzed; autovacuum will")
    return results


def observe_batch(size: int, seconds: float) -> None:
    BATCH_SIZE.observe(size)
    COMMIT_SECONDS.observe(seconds)


def in_callers_language(error: PlaceCodeError) -> PlaceCodeError:
    """The writer's errors are written in English (message ids); the caller's language."""
    translated = copy.copy(error)
    translated.message = _(error.message)
    translated.args = (translated.message,)
    return translated


class Writer:
    """What both writers share: the bound on the queue, the answers, the shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pending = 0
        self._logbook_pending = 0  # of `_pending`: the one logbook's visits
        self._accepting = True

    @property
    def pending(self) -> int:
        return self._pending

    async def start(self) -> None:
        """Be ready to write (the server calls it at start-up; `submit` does when needed)."""

    async def submit(
        self, visits: list[Visit], *, window_seconds: int, logbook: bool = False
    ) -> Result:
        """Queue visits and wait until they are committed (all of them in one transaction).

        A `logbook`'s visits may be more than the queue holds: it is admitted whole when no
        other logbook is waiting (else 503), and the scans' bound leaves it out."""
        await self.start()
        if not self._accepting:
            raise Unavailable(_("The server is shutting down; try again."), code="shutting_down")
        if logbook and self._logbook_pending:
            raise Unavailable(
                _("Another logbook is being saved just now; try again in a few seconds."),
                retry_after=5,
                code="logbook_busy",
            )
        scans_pending = self._pending - self._logbook_pending
        if not logbook and scans_pending + len(visits) > self.settings.writer_queue_max:
            REFUSED.inc(len(visits))
            raise Unavailable(
                _("Too many check-ins at this moment; try again in a second."),
                retry_after=1,
                code="overloaded",
            )
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        job = _Job(Order(list(visits), window_seconds), future, logbook)
        self._pending += job.size
        self._logbook_pending += job.size if logbook else 0
        QUEUE_DEPTH.inc(job.size)
        self._send(job)
        outcome = await future
        if outcome is None:
            raise not_saved()
        if isinstance(outcome, PlaceCodeError):
            raise in_callers_language(outcome)
        return [
            in_callers_language(item) if isinstance(item, PlaceCodeError) else item
            for item in outcome
        ]

    def _send(self, job: _Job) -> None:
        raise NotImplementedError

    def _settle(self, job: _Job, outcome: Outcome) -> None:
        if not job.future.done():  # its caller may have gone
            job.future.set_result(outcome)
        self._pending -= job.size
        self._logbook_pending -= job.size if job.logbook else 0
        QUEUE_DEPTH.dec(job.size)

    async def stop(self) -> None:
        """Stop taking check-ins, write what is queued, then end."""
        self._accepting = False
        while self._pending:
            await asyncio.sleep(0.005)


async def write_logbook(
    writer: Writer, database: Database, settings: Settings, visits: list[Visit]
) -> Result:
    """A logbook's visits, written in one transaction (the same file twice adds nothing).

    On PostgreSQL from the thread pool, in a transaction of its own beside the writer's
    batches, as another worker's writer writes: a file of many thousand rows then holds up
    no scan (through the writer, its one batch held a worker's scans for seconds). Its
    days' partitions are made first, committed on their own: made in its transaction, an
    old day's partition would keep the check-ins table locked from every scan until it
    commits. On SQLite, where one transaction writes at a time however it is sent, and on
    a database only this process sees, through the writer (`submit`, one logbook at a
    time)."""
    if database.private or database.engine.dialect.name == "sqlite":
        return await writer.submit(visits, window_seconds=0, logbook=True)

    def write() -> Result:
        with database.sessions() as session:
            make_partitions_apart(session, days_of(visits))
        orders = [Order(visits, window_seconds=0)]
        return write_batch(
            database=database, settings=settings, sealer=load_sealer(settings), orders=orders
        )[0]

    try:
        return await run_in_threadpool(write)
    except PlaceCodeError:
        raise
    except Exception:
        log.exception("logbook of %d check-ins not written", len(visits))
        raise not_saved() from None


def make_writer(settings: Settings, database: Database) -> Writer:
    """The process writer if asked for and another process can open the database."""
    if not settings.writer_process or database.private:
        return ThreadWriter(settings, database)
    return ProcessWriter(settings)


def failure_of(exc: Exception) -> Outcome:
    """What the jobs of a batch that raised `exc` are told."""
    if isinstance(exc, PlaceCodeError):
        return exc
    return None


class ThreadWriter(Writer):
    """Writes from a thread of this process, batches gathered by the event loop."""

    def __init__(self, settings: Settings, database: Database) -> None:
        super().__init__(settings)
        self.database = database
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="placecode-writer")
        self._sealer: Sealer | None = None
        self._partitions = DayPartitions()

    def _send(self, job: _Job) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        self._queue.put_nowait(job)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        wait = self.settings.writer_max_wait_ms / 1000
        limit = self.settings.writer_batch_max
        while True:
            jobs = [await self._queue.get()]
            # Let the batch fill for up to the wait (one timer per batch, not per job).
            if self._pending < limit and wait > 0:
                await asyncio.sleep(wait)
            size = jobs[0].size
            while size < limit and not self._queue.empty():
                job = self._queue.get_nowait()
                jobs.append(job)
                size += job.size
            outcomes: Sequence[Outcome]
            try:
                outcomes = await loop.run_in_executor(self._executor, self._write, jobs)
            except Exception as exc:  # every job of the batch learns it was not written
                log.exception("batch of %d check-ins not written", size)
                outcomes = [failure_of(exc)] * len(jobs)
            for job, outcome in zip(jobs, outcomes, strict=True):
                self._settle(job, outcome)

    def _write(self, jobs: list[_Job]) -> list[Result]:
        started = time.perf_counter()
        if self._sealer is None:
            self._sealer = load_sealer(self.settings)
        results = write_batch(
            database=self.database,
            settings=self.settings,
            sealer=self._sealer,
            orders=[job.order for job in jobs],
            partitions=self._partitions,
        )
        observe_batch(sum(job.size for job in jobs), time.perf_counter() - started)
        return results

    async def stop(self) -> None:
        await super().stop()
        if self._task is not None:
            self._task.cancel()
        self._executor.shutdown(wait=True)


class _Link(asyncio.Protocol):
    """The server's end of the socket to the writer's process."""

    def __init__(self, writer: ProcessWriter) -> None:
        self.writer = writer
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        for answers, batches in unframe(self._buffer):
            self.writer._answered(answers, batches)

    def connection_lost(self, exc: Exception | None) -> None:
        self.writer._lost(self)


class ProcessWriter(Writer):
    """Writes from a process of its own, which gathers the batches as they come.

    The server sends jobs over a socket pair, in one message: those of one turn of the
    event loop when the process is idle, else all that gathered while it wrote a batch,
    as soon as that batch is answered. The process answers each batch once it is
    committed. Should the process die, the jobs it had are answered 503 (they may or may
    not have been written; the dedupe window makes a retry harmless) and the next check-in
    starts a new one.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._starting = asyncio.Lock()
        self._link: _Link | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._jobs: dict[int, _Job] = {}
        self._ids = itertools.count()
        self._outbox: list[tuple[int, Packed]] = []
        self._started_once = False

    @property
    def process_id(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _connected(self) -> bool:
        return self._link is not None

    async def start(self) -> None:
        if self._connected() or not self._accepting:
            return
        async with self._starting:
            if self._connected():  # another caller started it meanwhile
                return
            if self._process is not None:  # the one before is gone: collect it
                await asyncio.to_thread(self._process.wait)
            try:
                await self._spawn()
            except OSError:
                log.exception("the check-in writer's process could not be started")
                raise not_saved() from None

    async def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            with theirs:
                # Its own metrics files would only add zeros: it sends its figures here.
                env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
                self._process = subprocess.Popen(  # noqa: S603  (our own module, no shell)
                    [
                        sys.executable,
                        "-m",
                        "placecode.checkins.writer_process",
                        str(theirs.fileno()),
                    ],
                    pass_fds=(theirs.fileno(),),
                    env=env,
                )
            ours.sendall(frame(self.settings))
            ours.setblocking(False)
            _transport, self._link = await asyncio.get_running_loop().create_unix_connection(
                lambda: _Link(self), sock=ours
            )
        except BaseException:
            ours.close()
            raise
        if self._started_once:
            RESTARTS.inc()
        self._started_once = True
        log.info("check-in writer started as process %d", self._process.pid)

    def _send(self, job: _Job) -> None:
        job_id = next(self._ids)
        self._jobs[job_id] = job
        self._outbox.append((job_id, packed(job.order)))
        if len(self._outbox) == 1 and len(self._jobs) == 1:
            # The process has nothing to do: this turn's jobs go at its end. Otherwise
            # they wait for the answer to the batch it is writing, and go with it as
            # the next one: a write to the socket wakes the process, and one per scan
            # cost a sixth of the event loop's time (docs/benchmarks.md).
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        if not self._outbox:
            return
        outbox, self._outbox = self._outbox, []
        if self._link is not None and self._link.transport is not None:
            self._link.transport.write(frame(outbox))
        # else the link was lost, and with it every job was answered

    def _answered(
        self, answers: list[tuple[int, Outcome]], batches: list[tuple[int, float]]
    ) -> None:
        for size, seconds in batches:
            observe_batch(size, seconds)
        for job_id, outcome in answers:
            job = self._jobs.pop(job_id, None)
            if job is not None:
                self._settle(job, outcome)
        self._flush()  # what gathered meanwhile is the next batch

    def _lost(self, link: _Link) -> None:
        if link is not self._link:
            return
        self._link = None
        if self._accepting:
            log.error("the check-in writer's process ended with %d jobs open", len(self._jobs))
        jobs, self._jobs = self._jobs, {}
        self._outbox = []  # answered below: not to be written by the next process
        for job in jobs.values():
            self._settle(job, None)

    async def stop(self) -> None:
        await super().stop()  # every job answered (or failed, if the process died)
        link, process = self._link, self._process
        self._link = None
        if link is not None and link.transport is not None:
            link.transport.close()  # the process sees the end of its input and leaves
        if process is not None:
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                log.error("the check-in writer's process did not end; killing it")
                process.kill()
                await asyncio.to_thread(process.wait)
