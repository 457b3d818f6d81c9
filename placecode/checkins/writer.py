"""The group-commit writer: check-ins are queued, written in batches (one transaction every
few milliseconds, or at a size limit) together with the hourly counts, and each request is
answered only after its batch is committed.

The queue is bounded: when it is full the caller gets 503 with Retry-After instead of
memory growing without limit. On shutdown the queue is drained. One writer per worker
process, writing from one thread, so SQLite sees one writer per process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge, Histogram

from placecode.checkins.store import (
    Stored,
    Visit,
    begin_write,
    days_of,
    ensure_partitions,
    store_visits,
)
from placecode.config import Settings
from placecode.db import Database
from placecode.errors import PlaceCodeError, Unavailable
from placecode.i18n import _
from placecode.people.sealing import Sealer, load_sealer

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

Result = list[Stored | PlaceCodeError]


@dataclass
class _Job:
    visits: list[Visit]
    window_seconds: int
    source: str
    future: asyncio.Future[Result] = field(repr=False)


class Writer:
    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._pending = 0
        self._accepting = True
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="placecode-writer")
        self._sealer: Sealer | None = None

    @property
    def pending(self) -> int:
        return self._pending

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def submit(self, visits: list[Visit], *, window_seconds: int, source: str) -> Result:
        """Queue visits and wait until they are committed (all of them in one transaction)."""
        if not self._accepting:
            raise Unavailable(_("The server is shutting down; try again."), code="shutting_down")
        if self._pending + len(visits) > self.settings.writer_queue_max:
            REFUSED.inc(len(visits))
            raise Unavailable(
                _("Too many check-ins at this moment; try again in a second."),
                retry_after=1,
                code="overloaded",
            )
        self._ensure_running()
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending += len(visits)
        QUEUE_DEPTH.inc(len(visits))
        self._queue.put_nowait(_Job(list(visits), window_seconds, source, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        wait = self.settings.writer_max_wait_ms / 1000
        limit = self.settings.writer_batch_max
        while True:
            jobs = [await self._queue.get()]
            # Let the batch fill for up to the wait (one timer per batch, not per job).
            if self._pending < limit and wait > 0:
                await asyncio.sleep(wait)
            size = len(jobs[0].visits)
            while size < limit and not self._queue.empty():
                job = self._queue.get_nowait()
                jobs.append(job)
                size += len(job.visits)
            try:
                results = await loop.run_in_executor(self._executor, self._write, jobs)
            except Exception as exc:  # every job of the batch learns it was not written
                log.exception("batch of %d check-ins not written", size)
                failure = (
                    exc
                    if isinstance(exc, PlaceCodeError)
                    else Unavailable(
                        _("The check-in could not be saved just now; try again."),
                        retry_after=1,
                        code="write_failed",
                    )
                )
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(failure)
            else:
                for job, result in zip(jobs, results, strict=True):
                    if not job.future.done():
                        job.future.set_result(result)
            finally:
                self._pending -= size
                QUEUE_DEPTH.dec(size)

    def _write(self, jobs: list[_Job]) -> list[Result]:
        """One transaction for the whole batch (runs on the writer thread)."""
        started = time.perf_counter()
        if self._sealer is None:
            self._sealer = load_sealer(self.settings)
        groups: dict[tuple[int, str], list[int]] = defaultdict(list)
        for position, job in enumerate(jobs):
            groups[(job.window_seconds, job.source)].append(position)
        results: list[Result] = [[] for _ in jobs]
        with self.database.sessions() as session:
            begin_write(session)
            ensure_partitions(session, days_of(visit for job in jobs for visit in job.visits))
            for (window, source), positions in groups.items():
                visits = [visit for position in positions for visit in jobs[position].visits]
                stored = store_visits(
                    session=session,
                    settings=self.settings,
                    sealer=self._sealer,
                    visits=visits,
                    window_seconds=window,
                    source=source,
                )
                offset = 0
                for position in positions:
                    count = len(jobs[position].visits)
                    results[position] = stored[offset : offset + count]
                    offset += count
            session.commit()
        BATCH_SIZE.observe(sum(len(job.visits) for job in jobs))
        COMMIT_SECONDS.observe(time.perf_counter() - started)
        return results

    async def stop(self) -> None:
        """Stop taking check-ins, write what is queued, then end."""
        self._accepting = False
        while self._pending:
            await asyncio.sleep(0.005)
        if self._task is not None:
            self._task.cancel()
        self._executor.shutdown(wait=True)
