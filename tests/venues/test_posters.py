"""Posters: the QR decoded from the rendered PDF, PNG and bulk PDF gives back the code URL,
and the server accepts that URL."""

import subprocess
from pathlib import Path

import pytest
from PIL import Image
from starlette.testclient import TestClient

from placecode.venues.models import Venue
from tests.conftest import Persona
from tests.qr import read_qr_codes


def decode(image_path: Path) -> list[str]:
    return read_qr_codes(image_path)


def pdf_pages(pdf: bytes, tmp_path: Path) -> list[Path]:
    source = tmp_path / "poster.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", str(source), str(tmp_path / "page")], check=True
    )
    return sorted(tmp_path.glob("page-*.png"))


def pdf_fonts(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "fonts.pdf"
    source.write_bytes(pdf)
    return subprocess.run(
        ["pdffonts", str(source)], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def code_url(client: TestClient, venue_manager: Persona, zhennan_market: Venue) -> str:
    url: str = client.get(
        f"/api/v1/venues/{zhennan_market.id}/code", headers=venue_manager.auth
    ).json()["url"]
    return url


def test_the_pdf_posters_qr_decodes_to_the_code_url(
    client: TestClient, venue_manager: Persona, zhennan_market: Venue, code_url: str, tmp_path: Path
) -> None:
    response = client.get(
        f"/api/v1/venues/{zhennan_market.id}/poster.pdf", headers=venue_manager.auth
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    (page,) = pdf_pages(response.content, tmp_path)
    assert decode(page) == [code_url]
    fonts = pdf_fonts(response.content, tmp_path)
    assert "NotoSansSC" in fonts
    assert " yes " in fonts  # embedded


def test_the_png_posters_qr_decodes_to_the_code_url(
    client: TestClient, venue_manager: Persona, zhennan_market: Venue, code_url: str, tmp_path: Path
) -> None:
    response = client.get(
        f"/api/v1/venues/{zhennan_market.id}/poster.png", headers=venue_manager.auth
    )
    assert response.headers["content-type"] == "image/png"
    path = tmp_path / "poster.png"
    path.write_bytes(response.content)
    assert Image.open(path).size == (1240, 1754)  # A4 at 150 dpi
    assert decode(path) == [code_url]


def test_the_svg_poster_names_the_venue(
    client: TestClient, venue_manager: Persona, zhennan_market: Venue
) -> None:
    svg = client.get(
        f"/api/v1/venues/{zhennan_market.id}/poster.svg", headers=venue_manager.auth
    ).text
    assert svg.startswith("<svg")
    assert "真南农副产品综合市场" in svg
    assert "请使用随申办、微信或支付宝扫码登记" in svg
    assert zhennan_market.id in svg


def test_every_page_of_an_organisations_bulk_pdf_decodes(
    client: TestClient, venue_manager: Persona, zhennan_market: Venue, tmp_path: Path
) -> None:
    second = client.post(
        "/api/v1/venues",
        json={
            "name": "真南菜场北门",
            "address": "真南路822弄3号",
            "street": "zhenruzhen",
            "category": "wet_market",
        },
        headers=venue_manager.auth,
    ).json()
    urls = {
        client.get(f"/api/v1/venues/{venue_id}/code", headers=venue_manager.auth).json()["url"]
        for venue_id in (zhennan_market.id, second["id"])
    }
    organisation = zhennan_market.organisation_id
    response = client.get(
        f"/api/v1/organisations/{organisation}/posters.pdf", headers=venue_manager.auth
    )
    assert response.status_code == 200
    pages = pdf_pages(response.content, tmp_path)
    assert len(pages) == 2
    assert {decode(page)[0] for page in pages} == urls


def test_the_decoded_url_is_accepted_and_a_bad_one_refused(
    client: TestClient, venue_manager: Persona, zhennan_market: Venue, code_url: str
) -> None:
    path = code_url.removeprefix("https://placecode.test")
    page = client.get(path)
    assert page.status_code == 200
    assert "真南农副产品综合市场" in page.text
    token = path.removeprefix("/s/")
    assert client.get(f"/api/v1/codes/{token}").json()["venue_id"] == zhennan_market.id
    tampered = client.get(path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB"))
    assert tampered.status_code == 400
    assert "签名" in tampered.text  # the refusal page explains, in Chinese
    client.post(f"/api/v1/venues/{zhennan_market.id}/reissue", headers=venue_manager.auth)
    old = client.get(path, headers={"Accept": "text/html"})
    assert old.status_code == 410
    assert "旧" in old.text
    assert client.get(f"/api/v1/codes/{token}").json()["error"] == "old_code"


def test_the_jwks_is_public(client: TestClient, venue_manager: Persona, code_url: str) -> None:
    keys = client.get("/.well-known/jwks.json")
    assert keys.status_code == 200
    assert keys.json()["keys"][0]["alg"] == "EdDSA"
    assert "max-age" in keys.headers["cache-control"]
