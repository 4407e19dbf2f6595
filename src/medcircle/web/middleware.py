"""ASGI middleware: request-size limit and security headers."""

from __future__ import annotations

import contextlib
import html
import json
from typing import Any
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medcircle.kit import i18n
from medcircle.kit.i18n import N_
from medcircle.web.deps import LANG_COOKIE


class BodyLimit:
    """Refuse bodies over ``limit`` bytes with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._refuse(scope, send)
            return
        seen = 0
        started = False
        exceeded = False

        async def limited_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    exceeded = True
                    raise _TooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                # the framework may turn the aborted read into its own error (a 400 "could
                # not parse the body"): drop that answer, the 413 below replaces it
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, limited_receive, tracking_send)
        if exceeded and not started:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        locale = (
            i18n.normalise_locale(_cookie(headers, LANG_COOKIE))
            or i18n.negotiate(headers.get(b"accept-language", b"").decode())
            or i18n.DEFAULT_LOCALE
        )
        i18n.set_locale(locale)
        mb = self.limit / (1024 * 1024)
        path = str(scope.get("path", ""))
        if not path.startswith(("/api/", "/fhir/")):
            # a page's form: answer with a page a person can read, and a way back
            await _send(
                send, 413, b"text/html; charset=utf-8", _too_large_page(headers, mb, locale)
            )
            return
        body: dict[str, Any] = {
            "type": "https://medcircle.invalid/problems/payload_too_large",
            "title": i18n.gettext(N_("The upload is too large")),
            "status": 413,
            "code": "payload_too_large",
            "detail": i18n.gettext(N_("The limit is %(mb).1f MB."), mb=mb),
            "instance": scope.get("path", ""),
        }
        data = json.dumps(body, ensure_ascii=False).encode()
        await _send(send, 413, b"application/problem+json", data)


def _cookie(headers: dict[bytes, bytes], name: str) -> str | None:
    for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def _too_large_page(headers: dict[bytes, bytes], mb: float, locale: str) -> bytes:
    referer = headers.get(b"referer", b"").decode("latin-1")
    back = urlsplit(referer).path if referer else "/"
    if not back.startswith("/") or back.startswith("//"):
        back = "/"
    title = html.escape(i18n.gettext(N_("The upload is too large")))
    detail = html.escape(i18n.gettext(N_("The limit is %(mb).1f MB."), mb=mb))
    link = html.escape(i18n.gettext(N_("Go back")))
    lang = "zh-Hans" if locale == "zh_Hans" else "en"
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<title>{title}</title><link rel="stylesheet" href="/static/app.css"></head>'
        f'<body><main id="main"><section class="card error-page" data-status="413">'
        f"<h1>{title}</h1><p>{detail}</p>"
        f'<p><a href="{html.escape(back)}">{link}</a></p></section></main></body></html>'
    ).encode()


async def _send(send: Send, status: int, content_type: bytes, data: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(data)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


class _TooLarge(Exception):
    pass


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        b"script-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'self'; "
        b"form-action 'self'",
    ),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in existing]
                if scope.get("path", "").startswith(("/docs", "/redoc")):
                    extra = [(k, v) for k, v in extra if k != b"content-security-policy"]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)
