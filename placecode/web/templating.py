"""Jinja2 pages: one environment over every domain's templates, translated per request."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from placecode.accounts.authz import csrf_token
from placecode.clock import clock
from placecode.i18n import current_locale, gettext, ngettext

PACKAGE_DIR = Path(__file__).resolve().parent.parent
# web/templates holds the layout; each domain keeps its pages under <domain>/templates.
TEMPLATE_DIRS = [
    PACKAGE_DIR / "web" / "templates",
    *sorted(path for path in PACKAGE_DIR.glob("*/templates") if path.parent.name != "web"),
]


def _local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "—"
    return value.astimezone(clock.zone).strftime(fmt)


def build_environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(path)) for path in TEMPLATE_DIRS]),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["local_time"] = _local_time
    return env


templates = Jinja2Templates(env=build_environment())


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render a page with what every page needs: language, CSRF token, who is signed in."""
    page_context = {
        "lang": current_locale(),
        "csrf_token": csrf_token(request),
        "principal": None,
        "citizen": None,
        "now": clock.local_now(),
        **(context or {}),
    }
    return templates.TemplateResponse(request, name, page_context, status_code=status_code)
