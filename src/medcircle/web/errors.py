"""One place that turns errors into RFC 9457 problem+json (API) or a readable page."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError, StatementError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from medcircle.audit import service as audit
from medcircle.audit.domain import Outcome, scrub
from medcircle.kit import i18n
from medcircle.kit.errors import DomainError
from medcircle.kit.i18n import N_, gettext
from medcircle.web.deps import (
    LANG_COOKIE,
    UNSAFE_METHODS,
    LoginRequired,
    SessionExpired,
    login_url,
    request_info,
    write_session_factory_of,
)

log = logging.getLogger("medcircle.web")


class ScrubLogRecords(logging.Filter):
    """ID numbers in an error's message or traceback never reach the logs (masked as in
    the audit trail)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        return True


log.addFilter(ScrubLogRecords())
PROBLEM = "application/problem+json"
PROBLEM_BASE = "https://medcircle.invalid/problems/"

HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", N_("The request could not be processed")),
    401: ("unauthenticated", N_("Please log in")),
    403: ("forbidden", N_("You do not have permission to do this")),
    404: ("not_found", N_("Not found")),
    405: ("method_not_allowed", N_("This method is not allowed here")),
    413: ("payload_too_large", N_("The upload is too large")),
    415: ("unsupported_media_type", N_("This content type is not supported")),
    422: ("validation_failed", N_("Some fields need attention")),
    500: ("internal_error", N_("Something went wrong on our side. The error has been logged.")),
}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/fhir/")) or (
        "application/json" in request.headers.get("accept", "")
        and "text/html" not in request.headers.get("accept", "")
    )


def problem(
    request: Request,
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "code": code,
        "instance": request.url.path,
    }
    if detail and detail != title:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    for key, value in (extensions or {}).items():
        body.setdefault(key, value)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _page(
    request: Request,
    status: int,
    title: str,
    detail: str | None,
    errors: list[dict[str, Any]] | None = None,
) -> Response:
    from medcircle.web.templating import render

    template = (
        "partials/error.html" if request.headers.get("HX-Request") == "true" else "error.html"
    )
    headers = (
        {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
        if template.startswith("partials")
        else None
    )
    return render(
        request,
        template,
        {"status": status, "title": title, "detail": detail, "errors": errors or []},
        status_code=status,
        headers=headers,
    )


def _audit_failure(request: Request, code: str, status: int) -> None:
    """A refused or failed write is audited in its own transaction (the request's rolled back)."""
    actor = getattr(request.state, "actor", None)
    if request.method not in UNSAFE_METHODS or actor is None:
        return
    route = request.scope.get("route")
    route_path = getattr(route, "path", request.url.path)
    try:
        audit.record_separately(
            write_session_factory_of(request),
            actor,
            f"{request.method.lower()} {route_path}"[:64],
            outcome=Outcome.DENIED if status in (401, 403) else Outcome.FAILURE,
            detail={"code": code, "status": status, "path": request.url.path},
            info=request_info(request),
        )
    except Exception:  # the trail must not turn a clear 4xx into a 500
        log.exception("could not audit a failed request")


def _speak_the_users_language(request: Request) -> None:
    """Errors raised before the actor dependency ran (unknown routes, bad bodies) still use
    the language cookie or the browser's language."""
    if hasattr(request.state, "actor_resolved"):
        return
    i18n.set_locale(
        i18n.normalise_locale(request.cookies.get(LANG_COOKIE))
        or i18n.negotiate(request.headers.get("accept-language"))
        or i18n.DEFAULT_LOCALE
    )


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    _speak_the_users_language(request)
    errors = [{"field": fe.field, "message": fe.text(), "code": fe.code} for fe in exc.field_errors]
    if isinstance(exc, LoginRequired) and not wants_json(request):
        target = login_url(request, expired=isinstance(exc, SessionExpired))
        if request.headers.get("HX-Request") == "true":
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    await run_in_threadpool(_audit_failure, request, exc.code, exc.status)
    title = gettext(exc.title)
    detail = exc.text()
    if wants_json(request):
        # ids of related records (e.g. the existing patient of a duplicate) as extension
        # members, so clients can follow them; never other parameters (they may be personal)
        ids = {k: v for k, v in exc.params.items() if k.endswith("_id") and isinstance(v, int)}
        return problem(request, exc.status, exc.code, title, detail, errors, extensions=ids)
    return _page(request, exc.status, title, detail, errors)


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or "body"


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    _speak_the_users_language(request)
    raw = exc.errors()
    if any(e.get("type") == "json_invalid" for e in raw):
        await run_in_threadpool(_audit_failure, request, "malformed_json", 400)
        return problem(
            request,
            400,
            "malformed_json",
            gettext(N_("The request body is not valid JSON")),
            gettext(N_("Check the JSON syntax of the request body.")),
        )
    errors = [
        {
            "field": _loc(e.get("loc", ())),
            "message": str(e.get("msg", "")),
            "code": str(e.get("type", "")),
        }
        for e in raw
    ]
    await run_in_threadpool(_audit_failure, request, "validation_failed", 422)
    title = gettext(N_("Some fields need attention"))
    if wants_json(request):
        return problem(request, 422, "validation_failed", title, None, errors)
    return _page(request, 422, title, None, errors)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    _speak_the_users_language(request)
    code, title = HTTP_CODES.get(
        exc.status_code, ("http_error", N_("The request could not be processed"))
    )
    headers = dict(exc.headers) if exc.headers else None
    if wants_json(request):
        return problem(request, exc.status_code, code, gettext(title), None, None, headers)
    return _page(request, exc.status_code, gettext(title), None)


async def unhandled_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    _speak_the_users_language(request)
    code, title = HTTP_CODES[500]
    if wants_json(request):
        return problem(request, 500, code, gettext(title))
    return _page(request, 500, gettext(title), None)


def _unstorable(exc: BaseException) -> bool:
    """Whether the database refused a value the client sent: an id beyond the integer range,
    a NUL character in text, a time beyond the calendar once turned into UTC."""
    if isinstance(exc, (OverflowError, DataError)):
        return True
    return isinstance(exc, StatementError) and isinstance(exc.orig, OverflowError)


async def unstorable_input(request: Request, exc: Exception) -> Response:
    """Bad values that reach the database are the client's mistake (400), not a failure."""
    if not _unstorable(exc):
        return await unhandled_error(request, exc)
    log.warning(
        "refused a value the database cannot take on %s %s: %s",
        request.method,
        request.url.path,
        type(getattr(exc, "orig", None) or exc).__name__,
    )
    _speak_the_users_language(request)
    await run_in_threadpool(_audit_failure, request, "unstorable_value", 400)
    title = gettext(HTTP_CODES[400][1])
    detail = gettext(N_("A value is out of range or contains characters that cannot be stored."))
    if wants_json(request):
        return problem(request, 400, "unstorable_value", title, detail)
    return _page(request, 400, title, detail)


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(StatementError, unstorable_input)
    app.add_exception_handler(OverflowError, unstorable_input)
    app.add_exception_handler(Exception, unhandled_error)
