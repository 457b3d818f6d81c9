"""In Chromium: a citizen signs in, opens a venue's URL and sees the colour block and the
venue; switches to English; a revoked venue's URL shows the refusal."""

import pytest
from playwright.sync_api import Page, expect

from placecode.accounts.models import Role
from placecode.accounts.principal import Principal
from placecode.signing import Keyring
from placecode.venues import service as venues
from placecode.venues.codes import CodeBook
from placecode.venues.schemas import VenueCreate
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser
ADMIN = Principal(0, "test", "test", Role.district_admin, None, "cli")


def venue_url(server: LiveServer, name: str) -> tuple[str, str]:
    with server.database.session() as session:
        venue = venues.register_venue(
            session=session,
            principal=ADMIN,
            data=VenueCreate(
                name=name,
                address=f"{name}路1号",
                street="wanli",
                category="shop",
                operator_name=name,
            ),
        )
        token = CodeBook(server.settings, Keyring(server.settings)).issue(
            session=session, venue=venue
        )
        return venue.id, f"{server.url}/s/{token}"


def test_a_citizen_scans_and_a_revoked_code_is_refused(page: Page, live_server: LiveServer) -> None:
    page.set_viewport_size({"width": 360, "height": 800})
    _venue_id, url = venue_url(live_server, "万里便民店")
    page.goto(url)
    expect(page.get_by_test_id("code-ok")).to_contain_text("万里便民店")
    page.get_by_test_id("sign-in-to-scan").click()
    page.fill("#name", "王秀英")
    page.select_option("#doc_type", "id_card")
    page.fill("#doc_number", "11010519491231002X")
    page.fill("#phone", "13812345678")
    page.click("form.form button[type=submit]")
    code = page.get_by_test_id("demo-code").locator("strong").inner_text()
    page.fill("#code", code)
    page.click("form.form button[type=submit]")

    expect(page.get_by_test_id("venue-name")).to_have_text("万里便民店")
    block = page.get_by_test_id("colour-block")
    expect(block).to_contain_text("绿码")
    assert block.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(10, 125, 59)"
    clock = page.get_by_test_id("live-clock")
    first = clock.inner_text()
    page.wait_for_timeout(1500)
    assert clock.inner_text() != first  # the clock is alive
    expect(page.get_by_test_id("decision")).to_contain_text("可以进入")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    page.click("text=English")
    expect(page.get_by_test_id("colour-block")).to_contain_text("Green")
    expect(page.get_by_test_id("decision")).to_contain_text("May enter")

    revoked_id, revoked_url = venue_url(live_server, "已注销小店")
    with live_server.database.session() as session:
        venues.change_status(session=session, principal=ADMIN, venue_id=revoked_id, action="revoke")
    page.goto(revoked_url + "?lang=zh_CN")
    expect(page.get_by_test_id("code-refused")).to_be_visible()
    expect(page.get_by_test_id("refusal-message")).to_contain_text("已注销")
