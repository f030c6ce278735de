"""One way to answer with an error: the status, a clear message, in the format the client reads.

JSON clients get ``{"error": …, "status": …}``, browsers a small HTML page (the message escaped),
everyone else plain text. :class:`~cokg.errors.CokgError` carries its own status;
:class:`~cokg.errors.StoreUnavailable` adds ``Retry-After``; anything unexpected is logged and
answered with a 500 that gives nothing away.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, current_app, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from cokg.errors import CokgError, QueryError, StoreUnavailable

from .state import CokgState

_JSON_TYPES = (
    "application/json",
    "application/problem+json",
    "application/sparql-results+json",
    "application/ld+json",
)
# The first entry wins when the client accepts anything (curl, `Accept: */*`).
_OFFERED = ("text/plain", *_JSON_TYPES, "text/html", "application/xhtml+xml")


def register_error_handlers(app: Flask) -> None:
    """Make ``app`` render every error through :func:`error_response`."""
    app.register_error_handler(CokgError, _cokg_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)


def error_response(
    status: int,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> Response:
    """Return an error response in the format the request's ``Accept`` header prefers.

    ``details`` (e.g. the line and column of a query error) go into the JSON body and after
    the message elsewhere.
    """
    details = {k: v for k, v in (details or {}).items() if v is not None}
    chosen = request.accept_mimetypes.best_match(_OFFERED, default="text/plain")
    reason = _reason(status)
    if chosen in _JSON_TYPES:
        body = json.dumps({"error": message, "status": status, **details}, ensure_ascii=False)
        response = Response(body, status, mimetype="application/json")
    elif chosen in ("text/html", "application/xhtml+xml"):
        page = render_template(
            "error.html", status=status, reason=reason, message=message, details=details
        )
        response = Response(page, status, mimetype="text/html")
    else:
        where = "".join(f"\n{name}: {value}" for name, value in details.items())
        response = Response(f"{status} {reason}: {message}{where}\n", status, mimetype="text/plain")
    response.headers["Vary"] = "Accept"
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _cokg_error(error: CokgError) -> Response:
    headers = {}
    details: dict[str, Any] = {}
    if isinstance(error, StoreUnavailable):
        state = current_app.extensions.get("cokg")
        retry_after = state.retry_after if isinstance(state, CokgState) else 5
        headers["Retry-After"] = str(retry_after)
        current_app.logger.warning("store unavailable: %s", error)
    if isinstance(error, QueryError):
        details = {"line": error.line, "column": error.column}
    return error_response(error.status, str(error), headers=headers, details=details)


def _http_error(error: HTTPException) -> Response | HTTPException:
    if error.code is None or error.code < 400:
        return error  # redirects and the like are answers, not errors
    kept = {
        name: value
        for name, value in error.get_headers()
        if name.lower() not in ("content-type", "content-length")
    }
    message = error.description or _reason(error.code)
    if isinstance(error, RequestEntityTooLarge):
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        message = f"the request body is too large: this server accepts at most {limit} bytes"
    return error_response(error.code, message, headers=kept)


def _unexpected_error(error: Exception) -> Response:
    current_app.logger.exception("unexpected error answering %s %s", request.method, request.path)
    return error_response(500, "internal server error; the server log has the details")
