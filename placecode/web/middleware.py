"""Security headers and the request's language, as plain ASGI middleware (cheap per request)."""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from placecode.i18n import LOCALES, pick_locale, set_locale

# Only the app's own scripts and styles; no inline code, no framing, no plugins.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(self), geolocation=(), microphone=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
LANG_COOKIE = "placecode_lang"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.headers = list(SECURITY_HEADERS)
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).extend(self.headers)
            await send(message)

        await self.app(scope, receive, send_wrapper)


def is_page_path(path: str) -> bool:
    """Pages are everything people look at; the API and machine endpoints are not."""
    return not path.startswith(("/api/", "/metrics", "/healthz", "/openapi.json", "/.well-known"))


class LocaleMiddleware:
    """Pick zh_CN or en for the request; `?lang=` is remembered in a cookie."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query_lang = None
        if b"lang=" in scope.get("query_string", b""):
            values = parse_qs(scope["query_string"].decode("latin-1")).get("lang")
            query_lang = values[0] if values else None
        cookie_lang = None
        accept = ""
        for name, value in scope["headers"]:
            if name == b"cookie" and LANG_COOKIE.encode() in value:
                morsel = SimpleCookie(value.decode("latin-1")).get(LANG_COOKIE)
                cookie_lang = morsel.value if morsel else None
            elif name == b"accept-language":
                accept = value.decode("latin-1")
        locale = pick_locale(
            query=query_lang, cookie=cookie_lang, accept=accept, is_page=is_page_path(scope["path"])
        )
        set_locale(locale)
        scope.setdefault("state", {})["locale"] = locale
        remember = query_lang is not None and locale in LOCALES and locale != cookie_lang

        async def send_wrapper(message: Message) -> None:
            if remember and message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.append(
                    "set-cookie",
                    f"{LANG_COOKIE}={locale}; Path=/; Max-Age=31536000; SameSite=Lax",
                )
            await send(message)

        await self.app(scope, receive, send_wrapper)
