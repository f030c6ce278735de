"""CORS on every response, so that browser tools (YASGUI, notebooks) can use any endpoint.

Every answer, errors included, allows any origin and exposes the headers clients need
(``Link``, ``Location``, the row-limit headers…). A preflight ``OPTIONS`` (which Flask answers
for every route with its ``Allow`` header) also gets the allowed methods and request headers,
``Authorization`` and ``Content-Type`` among them.
"""

from __future__ import annotations

import re

from flask import Flask, Response, request

EXPOSED_HEADERS = (
    "Link",
    "Location",
    "Content-Location",
    "Content-Disposition",
    "ETag",
    "Last-Modified",
    "Retry-After",
    "Warning",
    "WWW-Authenticate",
    "X-Cokg-Row-Limit",
    "X-Cokg-Result-Truncated",
)
ALLOWED_HEADERS = ("Accept", "Authorization", "Content-Type", "If-None-Match", "If-Modified-Since")
MAX_AGE = 86400
SERVER_METHODS = "GET, HEAD, POST, PUT, DELETE, OPTIONS"
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


def init_cors(app: Flask) -> None:
    """Add the CORS headers to every response of ``app``; answer ``OPTIONS *``."""
    app.before_request(options_of_the_server)
    app.after_request(add_cors_headers)


def options_of_the_server() -> Response | None:
    """Answer ``OPTIONS *`` (RFC 9110 §9.3.7: about the server, not one resource): 204 with
    every method some resource allows."""
    if request.method == "OPTIONS" and request.environ.get("PATH_INFO") == "*":
        response = Response(status=204)
        del response.headers["Content-Type"]
        response.headers["Allow"] = SERVER_METHODS
        return response
    return None


def add_cors_headers(response: Response) -> Response:
    """Allow any origin; answer preflight requests with the methods and headers allowed."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        allowed = response.headers.get("Allow") or "GET, HEAD, OPTIONS"
        response.headers["Access-Control-Allow-Methods"] = allowed
        asked = [
            h.strip()
            for h in request.headers.get("Access-Control-Request-Headers", "").split(",")
            if _HEADER_NAME.fullmatch(h.strip())
        ]
        names = list(ALLOWED_HEADERS) + [
            h for h in asked if h.lower() not in {a.lower() for a in ALLOWED_HEADERS}
        ]
        response.headers["Access-Control-Allow-Headers"] = ", ".join(names)
        response.headers["Access-Control-Max-Age"] = str(MAX_AGE)
    return response
