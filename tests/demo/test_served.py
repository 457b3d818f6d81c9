"""`placecode demo --no-serve`, then `placecode serve` on it, as two real processes: in
Chromium every printed account signs in and sees the district (the outbreak's index case
for the CDC), the commerce regulator answers the 真南 surge alert and the dashboards draw
their charts with no network; `placecode simulate` checks in against it over HTTP."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect

from placecode.clock import clock
from placecode.demo.district import ZHENNAN
from placecode.demo.load import profile_factor
from placecode.demo.service import CITIZEN, CITIZEN_PHONE

pytestmark = pytest.mark.browser
PLACECODE = str(Path(sys.executable).parent / "placecode")
STAFF = ("district_admin", "street_admin", "regulator", "venue_manager", "registrar", "cdc_analyst")


@dataclass(frozen=True)
class ServedDemo:
    url: str
    directory: Path
    env: dict[str, str]
    passwords: dict[str, str]  # username → password
    device_token: str
    index_case: str  # the outbreak's first person key
    planted: dict[str, str]  # each later case's person key → the key prefix of whom they met


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedDemo]:
    directory = tmp_path_factory.mktemp("served-demo")
    env = {name: value for name, value in os.environ.items() if not name.startswith("PLACECODE_")}
    env.update(
        PLACECODE_KEY_DIR=str(directory / "keys"),
        PLACECODE_ARGON2_TIME_COST="1",
        PLACECODE_ARGON2_MEMORY_KIB="8",
        PLACECODE_ARGON2_PARALLELISM="1",
        COLUMNS="200",
    )
    built = subprocess.run(
        [
            PLACECODE,
            "demo",
            "--no-serve",
            "--venues",
            "400",
            "--people",
            "6000",
            "--scans",
            "4000",
            "--days",
            "10",  # from 14 March: 18 March's surge has a baseline
        ],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    passwords, device_token = {}, ""
    for line in built.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] in STAFF:
            passwords[parts[1]] = parts[2]
        elif len(parts) >= 3 and parts[0] == "sentinel":
            device_token = parts[2]
    cases = re.findall(r"^\s+([0-9a-f]{32}) ", built.stdout, flags=re.MULTILINE)
    planted = dict(
        re.findall(r"^\s+([0-9a-f]{32}) .*\(met ([0-9a-f]{8})…", built.stdout, flags=re.MULTILINE)
    )
    assert len(passwords) == len(STAFF) and device_token and cases, built.stdout
    port = free_port()
    serve_env = {
        **env,
        "PLACECODE_DATABASE_URL": f"sqlite:///{directory / 'placecode-demo.db'}",
        "PLACECODE_CLOCK_TODAY": "2022-03-24",
    }
    server = subprocess.Popen(
        [PLACECODE, "serve", "--port", str(port)],
        cwd=directory,
        env=serve_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"placecode serve did not come up: {server.stderr.read()}")  # type: ignore[union-attr]
            time.sleep(0.2)
        yield ServedDemo(url, directory, serve_env, passwords, device_token, cases[0], planted)
    finally:
        server.terminate()
        server.wait(timeout=30)


def staff_signs_in(page: Page, demo: ServedDemo, username: str) -> None:
    page.goto(f"{demo.url}/login")
    page.fill("#username", username)
    page.fill("#password", demo.passwords[username])
    page.click("button[type=submit]")
    expect(page.get_by_test_id("role")).not_to_be_empty()


def test_every_demo_account_signs_in_and_sees_the_district(page: Page, served: ServedDemo) -> None:
    for username in ("admin", "zhenru", "commerce", "zhennan-manager"):
        page.context.clear_cookies()
        staff_signs_in(page, served, username)
        page.goto(f"{served.url}/venues?q=真南")
        expect(page.get_by_text(ZHENNAN).first).to_be_visible()
    # The registrar's scope is the market's door.
    page.context.clear_cookies()
    staff_signs_in(page, served, "zhennan-desk")
    expect(page.get_by_test_id("scope")).to_have_text(ZHENNAN)
    # The CDC analyst finds the outbreak's index case, confirmed.
    page.context.clear_cookies()
    staff_signs_in(page, served, "cdc")
    page.goto(f"{served.url}/health/people/{served.index_case}")
    expect(page.locator("main")).to_contain_text("确诊")
    # The sentinel device at 真南's gate.
    page.context.clear_cookies()
    page.goto(f"{served.url}/login/device")
    page.fill("#token", served.device_token)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text(ZHENNAN)
    # The demo citizen, through the demo identity provider.
    page.context.clear_cookies()
    page.goto(f"{served.url}/me/login")
    page.fill("#name", CITIZEN["name"])
    page.select_option("#doc_type", CITIZEN["doc_type"])
    page.fill("#doc_number", CITIZEN["doc_number"])
    page.fill("#phone", CITIZEN_PHONE)
    page.click("form.form button[type=submit]")
    code = page.get_by_test_id("demo-code").locator("strong").inner_text()
    page.fill("#code", code)
    page.click("form.form button[type=submit]")
    expect(page.get_by_test_id("personal-code").locator("svg")).to_be_visible()


def test_simulate_checks_in_against_the_served_demo(served: ServedDemo) -> None:
    database = served.directory / "placecode-demo.db"

    def check_ins() -> int:
        with sqlite3.connect(database) as connection:
            return int(connection.execute("SELECT count(*) FROM checkins").fetchone()[0])

    before = check_ins()
    # The simulator follows the daily profile, so its rate at this hour of the demo's day
    # (24 March, at today's time of day) may be a tenth of the average; ask for about 15 a
    # second at whatever hour the suite runs.
    clock.shift_to(date(2022, 3, 24))  # the demo's today (the clock is reset after the test)
    rate = min(1000, round(15 / profile_factor(clock.now(), ZoneInfo("Asia/Shanghai"))))
    env = {k: v for k, v in served.env.items() if k != "PLACECODE_DATABASE_URL"}
    run = subprocess.run(
        [
            PLACECODE,
            "simulate",
            "--url",
            served.url,
            "--duration",
            "4",
            "--rate",
            str(rate),
            "--people",
            "200",
            "--venues",
            "50",
            "--connections",
            "8",
        ],
        cwd=served.directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    created = int(re.search(r"answer 201\s*│\s*([\d,]+)", run.stdout).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert created > 10, run.stdout
    assert re.search(r"errors\s*│\s*0\b", run.stdout), run.stdout
    assert re.search(r"latency p99\s*│\s*[\d.]+ ms", run.stdout), run.stdout
    # Every check-in it was answered for is in the served district's log.
    assert check_ins() - before >= created


def test_tracing_the_demo_outbreak_finds_the_contacts_it_planted(served: ServedDemo) -> None:
    first = [key for key, met in served.planted.items() if served.index_case.startswith(met)]
    assert first, "the demo planted no case that met the index case"
    run = subprocess.run(
        [PLACECODE, "trace", "--person-key", served.index_case, "--format", "json"],
        cwd=served.directory,
        env=served.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    found = {c["person_key"]: c for c in json.loads(run.stdout)["contacts"]}
    for key in first:
        assert found[key]["finding"] == "close_contact", found.get(key)
        assert found[key]["degree"] == 1


def test_the_tracing_console_opens_a_demo_case_and_exports_it(
    page: Page, served: ServedDemo
) -> None:
    staff_signs_in(page, served, "cdc")
    page.goto(f"{served.url}/tracing")
    page.fill("#title", "真南 outbreak")
    page.fill("#person-key", served.index_case)
    page.click("[data-testid=new-case] button[type=submit]")
    expect(page.get_by_test_id("case-status")).to_have_text("open")
    expect(page.get_by_test_id("timeline").locator("li").first).to_be_visible()
    rows = page.get_by_test_id("contacts").locator("tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 1
    expect(page.get_by_test_id("cluster").locator("circle").first).to_be_visible()
    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    content = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert content.startswith("degree,finding,person_key")
    assert len(content.splitlines()) == 1 + int(
        sum(int(n) for n in re.findall(r"(\d+)", page.get_by_test_id("counts").inner_text()))
    )


def offline(page: Page, demo: ServedDemo) -> None:
    """Nothing but the server answers: a chart that needed a CDN would not draw."""
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(demo.url)
            else route.abort("internetdisconnected")
        ),
    )


def chart(page: Page, name: str, trace: int = 0) -> list[float]:
    """What plotly drew in a chart: its trace's y values (or x for the area charts)."""
    expect(page.locator(f"#chart-{name} .main-svg").first).to_be_visible()
    # Its layers (plot, legend, hover) lie on each other: the CSS plotly would inject, which
    # the strict CSP refuses, comes from our stylesheet.
    tops = page.evaluate(
        f"Array.from(document.querySelectorAll('#chart-{name} .main-svg'))"
        ".map(e => e.getBoundingClientRect().top)"
    )
    assert len(tops) >= 2 and len(set(tops)) == 1, tops
    return list(page.evaluate(f"document.getElementById('chart-{name}').data[{trace}].y"))


def test_commerce_answers_the_zhennan_alert_and_the_dashboards_draw_offline(
    page: Page, served: ServedDemo
) -> None:
    offline(page, served)
    staff_signs_in(page, served, "commerce")
    page.goto(f"{served.url}/analytics/alerts?day=2022-03-18")
    row = page.locator("tr[data-alert]", has_text=ZHENNAN)
    expect(row).to_contain_text("12:00")  # raised by midday, with its evidence
    expect(row).to_contain_text("商务委")  # to the commerce department …
    expect(row).to_contain_text("真如镇")  # … and to the market's street
    status = row.get_by_test_id("alert-status")
    expect(status).to_have_attribute("data-status", "open")
    expect(status).to_have_text("待处理")
    row.locator("input[name=note]").fill("已派员到场疏导")
    row.locator("button[value=acknowledge]").click()
    expect(status).to_have_attribute("data-status", "acknowledged")
    row.locator("input[name=note]").fill("限流排队，已恢复正常")
    row.locator("button[value=resolve]").click()
    expect(status).to_have_attribute("data-status", "resolved")
    expect(status).to_contain_text("限流排队，已恢复正常")
    # The market's hours that day: the curve leaves the band of its usual days.
    row.get_by_role("link", name=ZHENNAN).click()
    expect(page.locator("h1")).to_contain_text(ZHENNAN)
    hourly = chart(page, "venue", trace=3)
    high = chart(page, "venue", trace=1)
    assert max(hourly) > max(high)

    # The district dashboard: the charts draw, and their numbers are the API's.
    page.context.clear_cookies()
    staff_signs_in(page, served, "admin")
    page.goto(f"{served.url}/analytics?day=2022-03-18")
    api = page.request.get(f"{served.url}/api/v1/analytics/overview?day=2022-03-18").json()
    expect(page.get_by_test_id("counter")).to_have_text(f"{api['scans']:,}")
    assert chart(page, "hours") == api["hourly"]
    assert chart(page, "trend") == [d["scans"] for d in api["trend"]]
    assert chart(page, "streets") == [s["scans"] for s in api["streets"]]
    assert chart(page, "categories") == [c["scans"] for c in api["categories"]]
    assert api["top_venues"][0]["venue_name"] == ZHENNAN

    # Today's counter refreshes from the API by itself.
    page.clock.install()
    page.goto(f"{served.url}/analytics")
    with page.expect_response(lambda r: "/api/v1/analytics/overview" in r.url) as answer:
        page.clock.run_for(31_000)
    expect(page.get_by_test_id("counter")).to_have_text(f"{answer.value.json()['scans']:,}")

    # 真如镇's admin sees 真如镇 only.
    page.context.clear_cookies()
    staff_signs_in(page, served, "zhenru")
    page.goto(f"{served.url}/analytics?day=2022-03-18")
    chart(page, "streets")
    assert page.evaluate("document.getElementById('chart-streets').data[0].x") == ["真如镇街道"]
