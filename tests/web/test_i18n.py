"""Chinese by default on pages, English one tap away; every message has its translation."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from starlette.testclient import TestClient

import placecode
from placecode.i18n import catalog, gettext, pick_locale, use_locale

PACKAGE = Path(placecode.__file__).parent
METHOD_MAP = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def extracted_messages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(PACKAGE),
        METHOD_MAP,
        options_map=OPTIONS,
        keywords={"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)},
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_has_a_chinese_translation() -> None:
    messages = extracted_messages()
    assert "Sign in" in messages  # the extraction itself works
    zh = catalog("zh_CN")
    untranslated = sorted(m for m in messages if zh.gettext(m) == m)
    assert untranslated == [], "run ./scripts/messages and translate these in messages.po"


def test_gettext_follows_the_current_locale() -> None:
    with use_locale("zh_CN"):
        assert gettext("Sign in") == "登录"
    with use_locale("en"):
        assert gettext("Sign in") == "Sign in"


def test_pages_default_to_chinese_and_the_api_to_english() -> None:
    assert pick_locale(query=None, cookie=None, accept="", is_page=True) == "zh_CN"
    assert pick_locale(query=None, cookie=None, accept="", is_page=False) == "en"
    assert pick_locale(query=None, cookie=None, accept="en-GB,en;q=0.9", is_page=True) == "zh_CN"
    assert pick_locale(query=None, cookie=None, accept="zh-CN,zh;q=0.9", is_page=False) == "zh_CN"
    assert pick_locale(query="en", cookie="zh_CN", accept="zh", is_page=True) == "en"
    assert pick_locale(query=None, cookie="en", accept="zh", is_page=True) == "en"
    assert pick_locale(query="fr", cookie=None, accept="", is_page=True) == "zh_CN"


def test_the_sign_in_page_speaks_chinese_then_english_when_asked(client: TestClient) -> None:
    page = client.get("/login")
    assert '<html lang="zh-CN">' in page.text
    assert "登录" in page.text
    english = client.get("/login?lang=en")
    assert '<html lang="en">' in english.text
    assert "Sign in" in english.text and "登录" not in english.text
    assert "placecode_lang=en" in english.headers["set-cookie"]
    # The choice is remembered.
    assert "Sign in" in client.get("/login").text


def test_api_errors_speak_chinese_when_the_client_asks(client: TestClient) -> None:
    body = client.get("/api/v1/me", headers={"Accept-Language": "zh-CN"}).json()
    assert body["message"] == "请先登录。"
