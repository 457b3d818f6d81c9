"""`placecode analytics detect` and `report` on a committed district."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from tests.cli.test_cli import run  # noqa: F401  (the fixture)
from tests.tracing.test_cli import district


def test_detect_and_report_a_day(
    run: Callable[..., subprocess.CompletedProcess[str]],  # noqa: F811
) -> None:
    district(run)  # one market with three scans on 20 March 2022
    found = run("analytics", "detect", "--date", "2022-03-20", PLACECODE_CLOCK_TODAY="2022-03-21")
    assert found.returncode == 0, found.stderr
    assert "2022-03-20 (the whole day, baseline recent_days)" in found.stdout
    assert "0 new alert(s)" in found.stdout  # a day of history cannot make a baseline
    report = run("analytics", "report", "--date", "2022-03-20", PLACECODE_CLOCK_TODAY="2022-03-21")
    assert report.returncode == 0, report.stderr
    assert "2022-03-20: 3 scans" in report.stdout and "追踪命令菜场" in report.stdout
    assert run("analytics", "detect", "--date", "2022-03-20", "--hour", "25").returncode == 2
    assert run("analytics", "report", "--date", "20 March").returncode == 2
    ancient = run("analytics", "report", "--date", "0001-01-01")
    assert ancient.returncode == 1 and "Choose a day from 2000-01-01" in ancient.stderr


def test_rollup_a_day_then_all_pending(
    run: Callable[..., subprocess.CompletedProcess[str]],  # noqa: F811
) -> None:
    district(run)
    one = run("analytics", "rollup", "--date", "2022-03-20", PLACECODE_CLOCK_TODAY="2022-03-21")
    assert one.returncode == 0, one.stderr
    assert "Rolled up 1 day(s): 2022-03-20 to 2022-03-20." in one.stdout
    pending = run("analytics", "rollup", PLACECODE_CLOCK_TODAY="2022-03-22")
    assert pending.returncode == 0, pending.stderr
    assert "to 2022-03-22." in pending.stdout  # yesterday again, and today's finished hours
    report = run("analytics", "report", "--date", "2022-03-20", PLACECODE_CLOCK_TODAY="2022-03-22")
    assert "2022-03-20: 3 scans" in report.stdout
