"""What every benchmark shares: a throwaway district database, timing, and a report."""

from __future__ import annotations

import os
import platform
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from placecode import db
from placecode.config import Settings, load_settings
from placecode.region import service as region


def free_port() -> int:
    """A TCP port nobody listens on now, for a server the benchmark starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{python}, {os.cpu_count()} cores, {cpu}"


def cpu_ticks() -> tuple[int, int]:
    """The machine's CPU time so far, in ticks: all of it, and the part stolen by the
    hypervisor for other guests (Linux only; (0, 0) elsewhere)."""
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0


def steal_between(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of the machine's CPU time stolen between two `cpu_ticks()`."""
    total = after[0] - before[0]
    return (after[1] - before[1]) / total if total > 0 else 0.0


def throwaway_settings(**overrides: Any) -> Settings:
    workdir = Path(tempfile.mkdtemp(prefix="placecode-bench-"))
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{workdir / 'bench.db'}",
        "key_dir": workdir / "keys",
        "secret_key": "bench-" + "k" * 40,
        "pepper": "bench-" + "p" * 40,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return load_settings(**values)


def prepared_database(settings: Settings) -> db.Database:
    database = db.Database.connect(settings)
    db.upgrade(database.engine)
    with database.session() as session:
        region.load_region(
            session=session, data=region.read_region_file(region.packaged_region_path())
        )
    return database


def median_seconds(action: Callable[[], object], *, repeat: int, number: int) -> float:
    """Median over `repeat` runs of the time per call of `number` calls."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(number):
            action()
        samples.append((time.perf_counter() - started) / number)
    return statistics.median(samples)


def header(title: str, command: str) -> None:
    print(f"# {title}")
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}")
    print(f"command: {command}")
