"""The check-in writer's own cost: one batch written as the writer's process writes it
(people resolved, repeats looked up, rows inserted, hourly counts added, committed), with
no HTTP and no server around it, so that the figures are CPU time of this process and a
noisy neighbour on the machine moves them little.

    .venv/bin/python bench/bench_writer.py [--backends sqlite postgresql] [--batch 27]
        [--density 16] [--batches 500] [--repeat 5]

The district is the HTTP benchmark's (bench_checkins.py: 200 venues, 5,000 residents).
Before measuring, it is filled until each person has `--density` scans inside the dedupe
window, as in the HTTP benchmark after its warm-up, where 5,000 people make thousands of
scans a second. The baseline, in the same run and database: the same batches inserted as
bare rows (ids allocated, one insert, commit), which any writer has to do.
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_checkins import Postgres, prepare, resident
from common import header
from rich.progress import track
from sqlalchemy import text

from placecode.checkins.models import CHANNELS
from placecode.checkins.store import COLUMNS, DayPartitions, Visit, _ids_later
from placecode.checkins.writer import Order, write_batch
from placecode.clock import clock
from placecode.config import Settings, load_settings
from placecode.db import Database, DriverSql, begin_write
from placecode.people import service as people
from placecode.people.sealing import Sealer, load_sealer


class Statements:
    """Wall time spent in each kind of statement the writer sends (outermost call only)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.counting = True
        self._depth = 0

    @contextmanager
    def timing(self) -> Iterator[None]:
        originals = {
            name: getattr(DriverSql, name)
            for name in ("all", "run", "many", "insert_rows")
            if hasattr(DriverSql, name)  # (an older PlaceCode, for a comparison)
        }

        def timed(original: Callable[..., Any]) -> Callable[..., Any]:
            def call(sql: DriverSql, first: str, *args: Any, **kwargs: Any) -> Any:
                self._depth += 1
                started = time.perf_counter()
                try:
                    return original(sql, first, *args, **kwargs)
                finally:
                    self._depth -= 1
                    if self._depth == 0 and self.counting:
                        key = first if original is originals["insert_rows"] else first[:48]
                        self.seconds[key] += time.perf_counter() - started

            return call

        for name, original in originals.items():
            setattr(DriverSql, name, timed(original))
        try:
            yield
        finally:
            for name, original in originals.items():
                setattr(DriverSql, name, original)


class Relay:
    """A TCP relay that holds every chunk it passes for `delay` seconds each way: the
    writer's PostgreSQL as if on another host (`--delay-ms`). In a process of its own (its
    CPU is not the writer's), a thread per direction of each connection, so that a
    chunk's wait is a sleep, to the microsecond."""

    def __init__(self, target_port: int, delay: float) -> None:
        self.delay = delay
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.process = multiprocessing.get_context("fork").Process(target=self._accept, daemon=True)
        self.process.start()

    def _accept(self) -> None:
        while True:
            client, _address = self._listener.accept()
            server = socket.create_connection(("127.0.0.1", self.target_port))
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pass, args=(source, sink), daemon=True).start()

    def _pass(self, source: socket.socket, sink: socket.socket) -> None:
        """Each chunk goes on `delay` after it came, whatever came before it: a latency,
        not a queue (a thread reads, another sends)."""
        held: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()

        def send() -> None:
            while True:
                came, chunk = held.get()
                if not chunk:
                    sink.shutdown(socket.SHUT_WR)
                    return
                wait = came + self.delay - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                sink.sendall(chunk)

        threading.Thread(target=send, daemon=True).start()
        while True:
            chunk = source.recv(1 << 16)
            held.put((time.perf_counter(), chunk))
            if not chunk:
                return


class Batches:
    """Random (person, venue) scans at this second, as the HTTP benchmark's load makes."""

    def __init__(
        self, settings: Settings, database: Database, people_count: int, channels: int
    ) -> None:
        self.keys = [
            people.person_key_of(settings, resident(i).document) for i in range(people_count)
        ]
        with database.sessions() as session:
            self.venues = list(session.scalars(text("SELECT id FROM venues")))
        self.random = random.Random(7)
        self.channels = CHANNELS[:channels]  # 3: 随申办, WeChat and Alipay, as in the district

    def orders(self, size: int) -> list[Order]:
        now = int(clock.now().timestamp())
        return [
            Order(
                visits=[
                    Visit(
                        person_key=self.random.choice(self.keys),
                        venue_id=self.random.choice(self.venues),
                        scanned_at=now,
                        channel=self.random.choice(self.channels),
                        colour="green",
                        entry_allowed=True,
                    )
                ],
                window_seconds=300,
            )
            for _ in range(size)
        ]


def write_bare(database: Database, orders: list[Order]) -> None:
    """The baseline: the same visits as bare rows (no people, repeats or counts)."""
    with database.sessions() as session:
        begin_write(session)
        sql = DriverSql(session)
        person_id = sql.all("SELECT id FROM persons LIMIT 1")[0][0]
        visits = [order.visits[0] for order in orders]
        ids = _ids_later(sql, len(visits))()
        rows = [
            (i, v.scanned_at, v.venue_id, person_id, v.channel, v.colour, True, None, None, None)
            for i, v in zip(ids, visits, strict=True)
        ]
        sql.insert_rows("checkins", COLUMNS, rows)
        session.commit()


def per_batch(
    action: Callable[[], object], count: int, database_cpu: Callable[[], float]
) -> tuple[float, float, float]:
    """This process's CPU, wall and the database server's CPU seconds per call."""
    cpu, wall, database = time.process_time(), time.perf_counter(), database_cpu()
    for _ in range(count):
        action()
    return (
        (time.process_time() - cpu) / count,
        (time.perf_counter() - wall) / count,
        (database_cpu() - database) / count,
    )


def measure(url: str, args: argparse.Namespace, database_cpu: Callable[[], float]) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="pc-bench-writer-"))
    prepare(url, workdir, args.people, args.venues)
    settings = load_settings(database_url=url, key_dir=workdir / "keys")
    database = Database.connect(settings)
    sealer: Sealer = load_sealer(settings)
    batches = Batches(settings, database, args.people, args.channels)
    partitions = DayPartitions()  # the writer's process has one

    def write() -> None:
        write_batch(
            database=database,
            settings=settings,
            sealer=sealer,
            orders=batches.orders(args.batch),
            partitions=partitions,
        )

    fill = args.people * args.density // args.batch
    for _ in track(range(fill), description=f"filling the window ({fill} batches)"):
        write()
    statements = Statements()
    full: list[tuple[float, float, float]] = []
    bare: list[tuple[float, float, float]] = []
    with statements.timing():
        for _ in range(args.repeat):  # alternately, so that drift hits both
            statements.counting = True
            full.append(per_batch(write, args.batches, database_cpu))
            statements.counting = False  # the baseline's statements are not counted
            bare.append(
                per_batch(
                    lambda: write_bare(database, batches.orders(args.batch)), 100, database_cpu
                )
            )
    database.dispose()
    cpu, wall, server = (statistics.median(run[i] for run in full) for i in range(3))
    bare_cpu, _wall, bare_server = (statistics.median(run[i] for run in bare) for i in range(3))
    name = url.split(":", 1)[0].split("+", 1)[0]
    on_server = (
        f" (+ PostgreSQL's {server * 1e3:.2f} ms, bare {bare_server * 1e3:.2f})" if server else ""
    )
    print(
        f"{name:10} batch of {args.batch}: CPU {cpu * 1e3:.2f} ms "
        f"({cpu / args.batch * 1e6:.0f} µs a visit), wall {wall * 1e3:.2f} ms | "
        f"bare rows {bare_cpu * 1e3:.2f} ms CPU | ratio {cpu / bare_cpu:.2f}{on_server}",
        flush=True,
    )
    batches_timed = args.repeat * args.batches
    for statement, seconds in sorted(statements.seconds.items(), key=lambda item: -item[1]):
        print(f"{'':10}   {seconds / batches_timed * 1e3:6.3f} ms a batch  {statement}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--batch", type=int, default=27, help="visits a batch (HTTP bench: 27)")
    parser.add_argument("--density", type=int, default=16, help="scans a person in the window")
    parser.add_argument("--batches", type=int, default=500, help="batches a measured run")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--people", type=int, default=5_000)
    parser.add_argument("--venues", type=int, default=200)
    parser.add_argument(
        "--channels", type=int, default=1, help="scans come through this many front ends"
    )
    parser.add_argument(
        "--delay-ms",
        type=float,
        default=0.0,
        help="PostgreSQL as if on another host: each way's delay, through a relay",
    )
    args = parser.parse_args()
    header(
        "The check-in writer, one batch (medians)",
        f"python bench/bench_writer.py --batch {args.batch} --density {args.density} "
        f"--batches {args.batches} --repeat {args.repeat} --channels {args.channels}"
        + (f" --delay-ms {args.delay_ms}" if args.delay_ms else ""),
    )
    postgres = Postgres() if "postgresql" in args.backends else None
    try:
        for backend in args.backends:
            if backend == "sqlite":
                url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='pc-bench-')) / 'bench.db'}"
                measure(url, args, lambda: 0.0)  # SQLite works inside this process
            else:
                assert postgres is not None
                url = postgres.new_url()
                if args.delay_ms:
                    relay = Relay(postgres.port, args.delay_ms / 1000)
                    url = url.replace(f":{postgres.port}/", f":{relay.port}/")
                    assert str(relay.port) in url, url
                measure(url, args, postgres.cpu_seconds)
                if args.delay_ms:
                    relay.process.terminate()
    finally:
        if postgres is not None:
            postgres.stop()


if __name__ == "__main__":
    main()
