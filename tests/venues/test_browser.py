"""In Chromium: an organisation applies with its certificate (signed in the browser),
its manager registers a venue and downloads the poster, whose QR decodes to its code."""

import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from placecode.venues import certificates
from tests.conftest import PASSWORD, LiveServer
from tests.qr import read_qr_codes

pytestmark = pytest.mark.browser


def test_apply_register_and_print_a_poster(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    certificates.init_ca(live_server.settings)
    issued = certificates.issue_org_certificate(
        live_server.settings,
        uscc="91440300708461136T",
        name="长风物业管理有限公司",
        out_dir=tmp_path,
    )

    page.goto(f"{live_server.url}/apply")
    page.set_input_files("#certificate", str(issued.certificate_path))
    page.set_input_files("#key", str(issued.key_path))
    page.select_option("#kind", "property_manager")
    page.select_option("#street_code", "changfengxincun")
    page.fill("#username", "b-wuye")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_test_id("certificate-done")).to_be_visible(timeout=10_000)

    page.get_by_test_id("sign-in-link").click()
    page.fill("#username", "b-wuye")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_test_id("verified")).to_contain_text("已核验")

    page.goto(f"{live_server.url}/venues/new")
    page.fill("#name", "长风一村")
    page.fill("#address", "长风路1000弄")
    page.select_option("#street", "changfengxincun")
    page.select_option("#category", "residential")
    page.click("form.form button[type=submit]")
    expect(page.get_by_test_id("venue-name")).to_have_text("长风一村")
    code_url = page.locator("code.url").inner_text()

    with page.expect_download() as download:
        page.get_by_test_id("poster-pdf").click()
    pdf = tmp_path / "poster.pdf"
    download.value.save_as(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(pdf), str(tmp_path / "page")], check=True)
    (rendered,) = tmp_path.glob("page-*.png")
    decoded = read_qr_codes(rendered)
    assert decoded == [code_url]

    page.goto(code_url.replace(live_server.settings.base_url, live_server.url))
    expect(page.get_by_test_id("code-ok")).to_contain_text("长风一村")
