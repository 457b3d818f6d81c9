"""Translations: message ids are English, the zh_CN catalog is complete, pages default to it.

Catalogs are read from their .po files at start-up and compiled in memory, so there is no
build step. The locale of the request in hand lives in a context variable, so services
can translate the messages of the errors they raise.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES = ("zh_CN", "en")
PAGE_DEFAULT = "zh_CN"
CATALOG_DIR = Path(__file__).parent / "web" / "translations"

# Outside a request (CLI, scheduled jobs) messages are English.
_current: ContextVar[str] = ContextVar("placecode_locale", default="en")


@cache
def catalog(locale: str) -> NullTranslations:
    """The compiled catalog of `locale` (English is the identity)."""
    po_path = CATALOG_DIR / locale / "LC_MESSAGES" / "messages.po"
    if locale == "en" or not po_path.exists():
        return NullTranslations()
    with po_path.open("rb") as po_file:
        messages = read_po(po_file, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, messages)
    buffer.seek(0)
    return Translations(buffer)


def current_locale() -> str:
    return _current.get()


def set_locale(locale: str) -> None:
    _current.set(locale if locale in LOCALES else PAGE_DEFAULT)


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    token = _current.set(locale)
    try:
        yield
    finally:
        _current.reset(token)


def gettext(message: str) -> str:
    """Translate `message` into the current locale."""
    return catalog(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return catalog(_current.get()).ngettext(singular, plural, n)


_ = gettext


def N_(message: str) -> str:
    """Mark a message for the catalog without translating it yet (translate when shown)."""
    return message


def pick_locale(*, query: str | None, cookie: str | None, accept: str, is_page: bool) -> str:
    """Choose the locale: an explicit choice, then the remembered one, then the default.

    Pages speak Chinese until the visitor taps English (the district's language comes
    first, whatever the phone's setting); the API follows the client's Accept-Language
    and otherwise speaks English.
    """
    for choice in (query, cookie):
        if choice:
            normalised = normalise(choice)
            if normalised:
                return normalised
    if is_page:
        return PAGE_DEFAULT
    for part in accept.split(","):
        normalised = normalise(part.split(";")[0])
        if normalised:
            return normalised
    return "en"


def normalise(tag: str) -> str | None:
    tag = tag.strip().replace("-", "_").lower()
    if tag.startswith("zh"):
        return "zh_CN"
    if tag.startswith("en"):
        return "en"
    return None
