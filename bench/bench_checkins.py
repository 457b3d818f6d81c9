"""HTTP check-ins per second, durable acknowledgement, 64 connections over keep-alive,
against a trivial FastAPI POST endpoint on the same server settings (the ceiling), on
SQLite and PostgreSQL, with one and two uvicorn workers. Also the peak server memory, and
the check-in latency below saturation: the same 64 connections, each pausing a random
while between scans so that together they offer `--paced-rate` scans a second.

    .venv/bin/python bench/bench_checkins.py [--duration 15] [--repeat 3]
        [--backends sqlite postgresql] [--workers 1 2] [--stages] [--paced-rate 1000]

Needs wrk (Debian: apt-get install wrk) and, for PostgreSQL, Debian's postgresql-15 (a
throwaway server is started with default durability settings and removed afterwards).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from common import cpu_ticks, free_port, header, steal_between
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from placecode.accounts.models import Role
from placecode.accounts.principal import Principal
from placecode.accounts.service import Operator
from placecode.clock import clock
from placecode.config import load_settings
from placecode.db import Database
from placecode.health import service as health_service
from placecode.health.service import ImportKind
from placecode.people import identity
from placecode.people import service as people_service
from placecode.people.sealing import init_authority, load_sealer
from placecode.signing import Keyring
from placecode.venues import service as venues
from placecode.venues.codes import CodeBook
from placecode.venues.schemas import VenueCreate

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
ADMIN = Principal(0, "bench", "bench", Role.district_admin, None, "cli")
STAGES = ["person", "planned", "sleeping-writer"]  # see bench_app.py
STREETS = ["changshoulu", "caoyangxincun", "changfengxincun", "zhenruzhen", "taopu"]


class Postgres:
    """A throwaway PostgreSQL server (default fsync: benchmarks measure real durability)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pc-bench-pg."))
        self.port = free_port()
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.as_postgres = as_postgres
        self.run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.dir / "data"),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        self.run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.dir / "data"),
            "-l",
            str(self.dir / "log"),
            "-w",
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c max_connections=200",
            "start",
        )
        self.count = 0

    def run(self, *args: str) -> None:
        subprocess.run([*self.as_postgres, *args], check=True, capture_output=True)

    def new_url(self) -> str:
        self.count += 1
        name = f"bench{self.count}"
        subprocess.run(
            [
                str(PG_BIN / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-c",
                f"CREATE DATABASE {name}",
            ],
            check=True,
            capture_output=True,
        )
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server's processes (postmaster and backends)."""
        pid = int((self.dir / "data" / "postmaster.pid").read_text().split()[0])
        return sum(cpu_seconds(pid).values())

    def stop(self) -> None:
        self.run(str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


def resident(number: int) -> people_service.PersonDetails:
    """The benchmark district's resident `number` (a passport holder)."""
    return people_service.read_details(
        doc_type="passport", doc_number=f"B{number:08d}", name=f"Bench {number}"
    )


def prepare(url: str, workdir: Path, people: int, venue_count: int) -> tuple[dict[str, str], Path]:
    """A district with venues and an issuer; a file of its person tokens and venue codes."""
    env = {
        **os.environ,
        "PLACECODE_DATABASE_URL": url,
        "PLACECODE_KEY_DIR": str(workdir / "keys"),
        "PLACECODE_LOG_LEVEL": "WARNING",
        "PLACECODE_SCAN_MAX_VENUES_PER_MINUTE": "1000000",
        "PLACECODE_SCHEDULER": "false",
        "PYTHONPATH": str(HERE),
    }
    subprocess.run(
        [str(VENV_BIN / "placecode"), "init", "--password", "bench-password-1"],
        env=env,
        check=True,
        capture_output=True,
    )
    settings = load_settings(database_url=url, key_dir=workdir / "keys")
    init_authority(settings)
    database = Database.connect(settings)
    issuer = Ed25519PrivateKey.generate()
    with database.session() as session:
        identity.add_issuer(
            session=session, name="wechat", channel="wechat", public_key=issuer.public_key()
        )
        book = CodeBook(settings, Keyring(settings))
        codes = []
        for i in range(venue_count):
            venue = venues.register_venue(
                session=session,
                principal=ADMIN,
                data=VenueCreate(
                    name=f"基准店{i}",
                    address=f"基准路{i}号",
                    street=STREETS[i % len(STREETS)],
                    category="shop",
                    operator_name=f"基准店{i}",
                ),
            )
            codes.append(book.issue(session=session, venue=venue))
    # The people are residents already (steady state: a scan is not a first registration).
    details = [resident(i) for i in range(people)]
    with database.session() as session:
        people_service.ensure_people(
            session=session,
            settings=settings,
            sealer=load_sealer(settings),
            people=[(people_service.person_key_of(settings, d.document), d) for d in details],
            source="bench",
        )
        # Real statuses on the scan path: everyone has a negative NAT sampled six hours ago,
        # and one in a hundred was exposed at a risky venue (yellow, looked up by the rules).
        local = (clock.now() - timedelta(hours=6)).astimezone(clock.zone)
        when = local.strftime("%Y-%m-%d %H:%M")
        nats = "doc_type,doc_number,sampled_at,result,institution\n" + "".join(
            f"passport,B{i:08d},{when},negative,\n" for i in range(people)
        )
        cases = "doc_type,doc_number,name,phone,category,occurred_at,case_id\n" + "".join(
            f"passport,B{i:08d},,,exposure,{when},\n" for i in range(0, people, 100)
        )
        for kind, content in ((ImportKind.nat, nats), (ImportKind.cases, cases)):
            health_service.import_health_file(
                session=session,
                settings=settings,
                sealer=load_sealer(settings),
                actor=Operator(username="bench"),
                kind=kind,
                filename=f"{kind.value}.csv",
                content=content.encode(),
            )
    database.dispose()
    expires = clock.now() + timedelta(hours=6)
    scans = workdir / "scans.txt"
    tokens = [
        identity.external_token(
            issuer,
            issuer="wechat",
            doc_type="passport",
            doc_number=f"B{i:08d}",
            name=f"Bench {i}",
            phone=None,
            expires=expires,
        )
        for i in range(people)
    ]
    with scans.open("w") as out:  # checkins.lua draws a person and a venue apart
        out.writelines(f"person {token}\n" for token in tokens)
        out.writelines(f"venue {code}\n" for code in codes)
    return env, scans


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (uvicorn's workers, and each one's writer)."""
    tree = [pid]
    for one in tree:
        try:
            for task in Path(f"/proc/{one}/task").iterdir():
                tree += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            pass
    return tree


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its descendants."""
    total = 0
    for one in process_tree(pid):
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> dict[str, float]:
    """CPU time used so far by the server's processes: the writers' apart from the rest."""
    used = {"server": 0.0, "writer": 0.0}
    for one in process_tree(pid):
        try:
            stat = Path(f"/proc/{one}/stat").read_text()
            command = Path(f"/proc/{one}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        kind = "writer" if b"writer_process" in command else "server"
        used[kind] += (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime
    return used


WRITER_FIGURES = ("placecode_writer_batch_size", "placecode_writer_commit_seconds")
VERIFIED = "placecode_person_tokens_verified_total"


def metric_totals(base: str) -> dict[str, float]:
    """The writer's batch and commit-time sums and counts, and the person tokens verified
    from scratch, as /metrics has them so far (all workers summed)."""
    totals: dict[str, float] = {}
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        name, _space, value = line.partition(" ")
        writer = name.startswith(WRITER_FIGURES) and name.endswith(("_sum", "_count"))
        if writer or name == VERIFIED:
            totals[name] = totals.get(name, 0.0) + float(value)
    return totals


def warm_up(base: str, scans: Path, connections: int) -> None:
    """Until (nearly) every person token is known to every worker, as a day's repeat
    visitors would have made it: a sequential pass, then random rounds until one verifies
    fewer than 1 in 200 of its tokens from scratch. A warm-up of a fixed time left
    thousands unmet on a slow machine, and their signatures were checked in the runs."""
    url = f"{base}/api/v1/checkins"
    before = metric_totals(base).get(VERIFIED, 0.0)
    figures = wrk("checkins.lua", url, 15, connections, str(scans), "sequential")
    for rounds in range(1, 13):
        after = metric_totals(base).get(VERIFIED, 0.0)
        requests = figures["created"] + figures["repeated"] + figures["failed"]
        if after - before < requests / 200:
            print(f"{'':10} warmed up in {rounds} round(s)", flush=True)
            break
        before = after
        figures = wrk("checkins.lua", url, 5, connections, str(scans))
    else:
        print("warning: person tokens still being verified after the warm-up", flush=True)


def wrk(
    script: str,
    url: str,
    duration: int,
    connections: int,
    *args: str,
    think_ms: float | None = None,
) -> dict[str, float]:
    command = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(HERE / script),
        url,
    ]
    if args:
        command += ["--", *args]
    env = {**os.environ, "WRK_THINK_MS": f"{think_ms:.3f}"} if think_ms else None
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    figures: dict[str, float] = {}
    for line in output.splitlines():
        if line.startswith("RPS "):
            figures["rps"] = float(line.split()[1])
        elif line.startswith("LATENCY "):
            key, value = line.split()[1].split("=")
            figures[key] = float(value)
        elif line.startswith("STATUS "):
            for part in line.split()[1:]:
                key, value = part.split("=")
                figures[key] = float(value)
    return figures


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the runs; counts are summed."""
    summed = {"created", "repeated", "failed", "verified"}
    return {
        key: sum(run.get(key, 0) for run in runs)
        if key in summed
        else statistics.median(run[key] for run in runs)
        for key in runs[0]
    }


def measure(
    env: dict[str, str],
    scans: Path,
    workers: int,
    duration: int,
    connections: int,
    repeat: int,
    stages: bool,
    paced_rate: int = 0,
    database_cpu: Callable[[], float] | None = None,
) -> dict[str, dict[str, float]]:
    port = free_port()
    if workers > 1:  # /metrics adds up the workers' figures, as `placecode serve` has it
        env = {**env, "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="pc-bench-metrics-")}
    server = subprocess.Popen(
        [
            str(VENV_BIN / "python"),
            "-m",
            "uvicorn",
            "--factory",
            "bench_app:create",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=HERE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        peak = [0]
        running = [True]

        def sample() -> None:
            while running[0]:
                peak[0] = max(peak[0], rss_kib(server.pid))
                time.sleep(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        warm_up(base, scans, connections)
        # Ceiling and check-ins alternate, so that drift on a noisy machine hits both.
        names = [
            "ceiling",
            *(STAGES if stages else []),
            "checkins",
            *(["paced"] * bool(paced_rate)),
        ]
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
        for _ in range(repeat):
            for name in names:
                ticks = cpu_ticks()
                if name == "ceiling":
                    figures = wrk("ceiling.lua", f"{base}/bench/ceiling", duration, connections)
                elif name == "paced":  # the same connections, each at its own pace
                    think_ms = connections / paced_rate * 1000
                    figures = wrk(
                        "checkins.lua",
                        f"{base}/api/v1/checkins",
                        duration,
                        connections,
                        str(scans),
                        think_ms=think_ms,
                    )
                elif name == "checkins":  # with where the CPU went, and the batches
                    cpu_before, writer_before = cpu_seconds(server.pid), metric_totals(base)
                    database_before = database_cpu() if database_cpu else 0.0
                    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
                    started = time.monotonic()
                    figures = wrk(
                        "checkins.lua", f"{base}/api/v1/checkins", duration, connections, str(scans)
                    )
                    wall = time.monotonic() - started
                    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
                    figures["cpu_wrk"] = (
                        wrk_after.ru_utime
                        + wrk_after.ru_stime
                        - wrk_before.ru_utime
                        - wrk_before.ru_stime
                    ) / wall
                    cpu_after, writer_after = cpu_seconds(server.pid), metric_totals(base)
                    for kind in cpu_after:
                        figures[f"cpu_{kind}"] = (cpu_after[kind] - cpu_before[kind]) / wall
                    if database_cpu:
                        figures["cpu_database"] = (database_cpu() - database_before) / wall
                    delta = {k: writer_after[k] - writer_before.get(k, 0.0) for k in writer_after}
                    batches = delta.get("placecode_writer_batch_size_count", 0) or 1
                    figures["batch"] = delta.get("placecode_writer_batch_size_sum", 0) / batches
                    figures["commit_ms"] = (
                        delta.get("placecode_writer_commit_seconds_sum", 0) / batches * 1000
                    )
                    figures["verified"] = delta.get(VERIFIED, 0)
                else:
                    path = f"/bench/stages/{name}"
                    figures = wrk("checkins.lua", base + path, duration, connections, str(scans))
                # A virtual machine's neighbours take cores from it: how much, so that
                # a run's figures can be weighed (a pipeline of processes suffers most).
                figures["steal"] = steal_between(ticks, cpu_ticks())
                runs[name].append(figures)
        running[0] = False
        sampler.join()
        results = {name: medians(figures) for name, figures in runs.items()}
        results["checkins"]["peak_rss_mib"] = peak[0] / 1024
        return results
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--people", type=int, default=5_000)
    parser.add_argument("--venues", type=int, default=200)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument(
        "--stages",
        action="store_true",
        help="also measure the scan path stopped part-way (where a check-in's time goes)",
    )
    parser.add_argument(
        "--paced-rate",
        type=int,
        default=1000,
        help="also measure check-in latency below saturation: the connections together "
        "offer about this many scans a second (0: skip)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    header(
        "HTTP check-ins (medians)",
        f"python bench/bench_checkins.py --duration {args.duration} --repeat {args.repeat}",
    )
    postgres = Postgres() if "postgresql" in args.backends else None
    try:
        for backend in args.backends:
            for workers in args.workers:
                workdir = Path(tempfile.mkdtemp(prefix="pc-bench-"))
                if backend == "sqlite":
                    url = f"sqlite:///{workdir / 'bench.db'}"
                else:
                    assert postgres is not None
                    url = postgres.new_url()
                env, scans = prepare(url, workdir, args.people, args.venues)
                result = measure(
                    env,
                    scans,
                    workers,
                    args.duration,
                    args.connections,
                    args.repeat,
                    args.stages,
                    args.paced_rate,
                    postgres.cpu_seconds if postgres and backend == "postgresql" else None,
                )
                ceiling, checkins = result["ceiling"], result["checkins"]
                ratio = checkins["rps"] / ceiling["rps"]
                print(
                    f"{backend:10} workers={workers}: "
                    f"ceiling {ceiling['rps']:7.0f}/s p50 {ceiling['p50']:.1f} ms "
                    f"p99 {ceiling['p99']:.1f} ms | check-ins {checkins['rps']:7.0f}/s "
                    f"p50 {checkins['p50']:.1f} ms p99 {checkins['p99']:.1f} ms | "
                    f"ratio {ratio:.2f} | new {checkins.get('created', 0):.0f} "
                    f"repeated {checkins.get('repeated', 0):.0f} "
                    f"failed {checkins.get('failed', 0):.0f} | "
                    f"peak memory {checkins['peak_rss_mib']:.0f} MiB",
                    flush=True,
                )
                database = (
                    f"of PostgreSQL's {checkins['cpu_database']:.0%}, "
                    if "cpu_database" in checkins
                    else ""
                )
                print(
                    f"{'':10} check-ins: CPU of the server processes "
                    f"{checkins['cpu_server']:.0%}, of the writers' {checkins['cpu_writer']:.0%}, "
                    f"{database}of wrk {checkins['cpu_wrk']:.0%} (of one core); "
                    f"batches of {checkins['batch']:.1f} check-ins, "
                    f"{checkins['commit_ms']:.2f} ms each; person tokens verified from "
                    f"scratch {checkins['verified']:.0f}; CPU stolen by the host "
                    f"{ceiling['steal']:.0%} (ceiling), {checkins['steal']:.0%} (check-ins)",
                    flush=True,
                )
                if args.paced_rate:
                    paced = result["paced"]
                    print(
                        f"{'':10} paced, {args.paced_rate}/s offered: {paced['rps']:7.0f}/s "
                        f"p50 {paced['p50']:.1f} ms p90 {paced['p90']:.1f} ms "
                        f"p99 {paced['p99']:.1f} ms | failed {paced.get('failed', 0):.0f}",
                        flush=True,
                    )
                for stage in STAGES if args.stages else []:
                    figures = result[stage]
                    print(
                        f"{'':10} stage {stage:15}: {figures['rps']:7.0f}/s "
                        f"p50 {figures['p50']:.1f} ms p99 {figures['p99']:.1f} ms | "
                        f"ratio {figures['rps'] / ceiling['rps']:.2f}",
                        flush=True,
                    )
                shutil.rmtree(workdir, ignore_errors=True)
    finally:
        if postgres is not None:
            postgres.stop()


if __name__ == "__main__":
    main()
