"""Real pages in Debian's headless Chromium (Playwright), against a live server."""

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from placecode.accounts.models import Role
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def accounts(live_server: LiveServer) -> dict[str, str]:
    return {
        "admin": live_server.add_user("b-admin", Role.district_admin),
        "street": live_server.add_user("b-street", Role.street_admin, "changfengxincun"),
    }


@pytest.fixture
def csp_violations(page: Page) -> list[str]:
    seen: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            seen.append(message.text)

    page.on("console", watch)
    return seen


def sign_in(page: Page, server: LiveServer, username: str, password: str) -> None:
    page.goto(f"{server.url}/")
    expect(page).to_have_url(f"{server.url}/login?next=/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")


def test_an_admin_signs_in_switches_language_and_signs_out(
    page: Page, live_server: LiveServer, accounts: dict[str, str], csp_violations: list[str]
) -> None:
    sign_in(page, live_server, "b-admin", accounts["admin"])
    expect(page.get_by_test_id("role")).to_have_text("区级管理员")
    expect(page.get_by_test_id("scope")).to_have_text("全区")
    page.click("text=English")
    expect(page.get_by_test_id("role")).to_have_text("District administrator")
    page.click("text=Sign out")
    expect(page).to_have_url(f"{live_server.url}/login")
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/login?next=/")
    assert csp_violations == []


def test_a_street_admin_sees_their_street(
    page: Page, live_server: LiveServer, accounts: dict[str, str]
) -> None:
    sign_in(page, live_server, "b-street", accounts["street"])
    expect(page.get_by_test_id("scope")).to_have_text("长风新村街道")
    page.goto(f"{live_server.url}/admin/users")
    expect(page.get_by_test_id("error")).to_be_visible()


def test_a_wrong_password_is_told_on_the_page(page: Page, live_server: LiveServer) -> None:
    page.goto(f"{live_server.url}/login")
    page.fill("#username", "b-nobody")
    page.fill("#password", "wrong-password")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("login-error")).to_have_text("用户名或密码错误。")


def test_the_sign_in_page_fits_a_small_phone(page: Page, live_server: LiveServer) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{live_server.url}/login")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    font_size = page.evaluate("getComputedStyle(document.body).fontSize")
    assert float(font_size.removesuffix("px")) >= 16


def test_the_api_documentation_renders_offline(
    page: Page, live_server: LiveServer, csp_violations: list[str]
) -> None:
    page.goto(f"{live_server.url}/docs")
    expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=15_000)
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/me").first).to_be_visible()
    assert csp_violations == []
