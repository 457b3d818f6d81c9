"""In Chromium: a citizen made yellow by an exposure sees yellow with the reason on the scan
page and the "why" page; after a negative NAT is imported, green."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from placecode.accounts.service import Operator
from placecode.clock import clock
from placecode.health import service
from placecode.people.documents import id_check_digit
from placecode.people.sealing import load_sealer
from tests.checkins.test_browser import venue_url
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser
SHANGHAI = ZoneInfo("Asia/Shanghai")
CHEN = "31010719700707007" + id_check_digit("31010719700707007")


def cdc_import(server: LiveServer, kind: service.ImportKind, content: str) -> None:
    with server.database.session() as session:
        report = service.import_health_file(
            session=session,
            settings=server.settings,
            sealer=load_sealer(server.settings),
            actor=Operator(username="cdc-test"),
            kind=kind,
            filename="file.csv",
            content=content.encode(),
        )
    assert report.accepted == 1, report


def local(hours_ago: float) -> str:
    moment = clock.now() - timedelta(hours=hours_ago)
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def test_an_exposed_citizen_sees_yellow_and_why_then_green_after_a_negative_nat(
    page: Page, live_server: LiveServer
) -> None:
    page.set_viewport_size({"width": 360, "height": 800})
    exposed_at = local(3)  # once: the minute may turn while the test runs
    cdc_import(
        live_server,
        service.ImportKind.cases,
        "doc_type,doc_number,name,phone,category,occurred_at,case_id\n"
        f"id_card,{CHEN},陈七,,exposure,{exposed_at},SH-9\n",
    )
    _venue_id, url = venue_url(live_server, "桃浦便民超市")
    page.goto(url)
    page.get_by_test_id("sign-in-to-scan").click()
    page.fill("#name", "陈七")
    page.select_option("#doc_type", "id_card")
    page.fill("#doc_number", CHEN)
    page.fill("#phone", "13900000007")
    page.click("form.form button[type=submit]")
    page.fill("#code", page.get_by_test_id("demo-code").locator("strong").inner_text())
    page.click("form.form button[type=submit]")

    block = page.get_by_test_id("colour-block")
    expect(block).to_contain_text("黄码")
    assert block.evaluate("e => getComputedStyle(e).backgroundColor") != "rgb(10, 125, 59)"
    expect(page.get_by_test_id("reasons")).to_contain_text("曾到访有病例的场所")
    expect(page.get_by_test_id("decision")).to_contain_text("不可进入")

    page.click("a[href='/me/health']")
    expect(page.get_by_test_id("status")).to_have_attribute("data-colour", "yellow")
    expect(page.get_by_test_id("reasons")).to_contain_text(exposed_at)
    expect(page.get_by_test_id("until")).to_be_visible()

    cdc_import(
        live_server,
        service.ImportKind.nat,
        f"doc_type,doc_number,sampled_at,result,institution\nid_card,{CHEN},{local(1)},阴性,\n",
    )
    page.reload()
    expect(page.get_by_test_id("status")).to_have_attribute("data-colour", "green")
    expect(page.get_by_test_id("colour-block")).to_contain_text("绿码")
    expect(page.get_by_test_id("nat")).to_contain_text("阴性")

    page.goto(url)
    expect(page.get_by_test_id("colour-block")).to_contain_text("绿码")
    expect(page.get_by_test_id("nat")).to_contain_text("阴性")
    expect(page.get_by_test_id("decision")).to_contain_text("可以进入")
