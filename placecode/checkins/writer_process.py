"""The check-in writer's own process: it reads jobs from the server over a socket, writes
them in batches and answers each batch once it is committed.

The server starts it (`ProcessWriter` in writer.py) with one end of a socket pair; the
messages both ways are pickles, each after its length. The first message is the server's
settings; then come lists of `(job id, packed Order)`, and it answers `(answers, batches)`: each
job's outcome, and the size and time of each batch written. It leaves when the server's
end closes (a shutdown, or the server killed) once it has written what it had. Signals
for the server (Ctrl-C in a terminal, SIGTERM to the service's group) are left to the
server, which drains the queue and then closes the socket.
"""

from __future__ import annotations

import fcntl
import logging
import os
import pickle
import select
import signal
import socket
import struct
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from placecode.checkins.store import DayPartitions
    from placecode.checkins.writer import Order, Outcome
    from placecode.config import Settings
    from placecode.db import Database
    from placecode.people.sealing import Sealer

HEADER = struct.Struct("!I")

log = logging.getLogger("placecode.writer")


def frame(message: Any) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


def unframe(buffer: bytearray) -> list[Any]:
    """The whole messages at the start of `buffer`, taken out of it."""
    messages = []
    start = 0
    while len(buffer) - start >= HEADER.size:
        (length,) = HEADER.unpack_from(buffer, start)
        end = start + HEADER.size + length
        if len(buffer) < end:
            break
        messages.append(pickle.loads(buffer[start + HEADER.size : end]))  # noqa: S301  (our server's)
        start = end
    del buffer[:start]
    return messages


class Inbox:
    """The jobs the server has sent, read as they come."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.closed = False
        self._buffer = bytearray()
        # poll, not select: the socket keeps the server's descriptor number, which in a
        # busy server can be past select's limit of 1024.
        self._poll = select.poll()
        self._poll.register(sock, select.POLLIN)

    def receive(self, timeout: float | None) -> list[Any]:
        """Wait up to `timeout` (None: for ever) for input, and return the messages read."""
        readable = self._poll.poll(None if timeout is None else timeout * 1000)
        while readable:
            try:
                chunk = self.sock.recv(1 << 20, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            if not chunk:
                self.closed = True
                break
            self._buffer += chunk
        return unframe(self._buffer)


def batches(jobs: list[tuple[int, Order]], limit: int) -> list[list[tuple[int, Order]]]:
    """The jobs cut into batches of at most `limit` visits (a bigger job goes alone)."""
    if not jobs:  # a message only part-way in
        return []
    cut: list[list[tuple[int, Order]]] = [[]]
    size = 0
    for job in jobs:
        count = len(job[1].visits)
        if cut[-1] and size + count > limit:
            cut.append([])
            size = 0
        cut[-1].append(job)
        size += count
    return cut


def serve(sock: socket.socket) -> None:
    from placecode.checkins.store import DayPartitions
    from placecode.checkins.writer import unpacked
    from placecode.db import Database
    from placecode.people.sealing import load_sealer
    from placecode.web.observability import configure_logging

    inbox = Inbox(sock)
    first: list[Any] = []
    while not first and not inbox.closed:
        first = inbox.receive(None)
    if not first:
        return
    settings = first[0]
    configure_logging(settings)
    database = Database.connect(settings)
    sealer = load_sealer(settings)
    limit = settings.writer_batch_max
    turns = Turns.for_database(database)
    partitions = DayPartitions()

    def orders(messages: list[Any]) -> list[tuple[int, Order]]:
        return [(job_id, unpacked(values)) for message in messages for job_id, values in message]

    def received(timeout: float | None) -> list[tuple[int, Order]]:
        return orders(inbox.receive(timeout))

    jobs = orders(first[1:])
    try:
        while True:
            jobs += received(0)
            if not jobs:
                if inbox.closed:
                    break
                # Idle: wait for work. No pause for company after it (`writer_max_wait_ms`
                # is the thread writer's): the next batch gathers while this one commits,
                # and a pause was measured to cost more than it saved.
                jobs = received(None)
            for batch in batches(jobs, limit):
                with turns:
                    answered = write_and_answer(sock, batch, database, settings, sealer, partitions)
                if not answered:
                    return  # the server is gone; what was committed stays
            jobs = []
    finally:
        turns.close()
        database.dispose()


class Turns:
    """The check-in writers of one SQLite file (one per server process) write in turns.

    They take a lock file next to the database before each batch: the kernel hands it to
    the next writer the moment it is let go, where SQLite's own busy handler polls with
    sleeps growing to 100 ms. Two workers' writers measured batches of 4.9 ms against
    8.0, and a check-in p99 of 47 ms against 132 (docs/benchmarks.md). Other writers
    (staff requests, commands) still wait on SQLite's lock as before. PostgreSQL writers
    need no turns.
    """

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600) if path else None

    @classmethod
    def for_database(cls, database: Database) -> Turns:
        url = database.engine.url
        on_file = url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:")
        return cls(f"{url.database}-writers.lock" if on_file else None)

    def __enter__(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *_exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def visit_count(jobs: list[tuple[int, Order]]) -> int:
    return sum(len(order.visits) for _id, order in jobs)


def write_and_answer(
    sock: socket.socket,
    batch: list[tuple[int, Order]],
    database: Database,
    settings: Settings,
    sealer: Sealer,
    partitions: DayPartitions,
) -> bool:
    """Write one batch and tell the server; False if the server is gone."""
    from placecode.checkins.writer import failure_of, write_batch

    started = time.perf_counter()
    outcomes: list[Outcome]
    try:
        outcomes = list(
            write_batch(
                database=database,
                settings=settings,
                sealer=sealer,
                orders=[order for _id, order in batch],
                partitions=partitions,
            )
        )
    except Exception as exc:
        log.exception("batch of %d check-ins not written", visit_count(batch))
        outcomes = [failure_of(exc)] * len(batch)
    answers = [(job_id, outcome) for (job_id, _o), outcome in zip(batch, outcomes, strict=True)]
    seconds = time.perf_counter() - started
    try:
        sock.sendall(frame((answers, [(visit_count(batch), seconds)])))
    except OSError:
        return False
    return True


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Woken by the server's message, it should not take the server's core there and then
    # (Linux's wake-up preemption): the server was measured losing a sixth of its time so.
    if hasattr(os, "SCHED_BATCH"):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    args = sys.argv[1:] if argv is None else argv
    serve(socket.socket(fileno=int(args[0])))


if __name__ == "__main__":
    main()
