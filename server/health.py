"""``GET /healthz``: is the store reachable, how many triples it holds, which version runs.

Always JSON (it is for load balancers and monitors). 200 when the store answers; 503 with
``Retry-After`` when it does not.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from cokg import __version__
from cokg.errors import CokgError

from .state import cokg_state

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> Response:
    """Report on the store: ``{status, store, triples, version, backend}`` (plus ``engine``)."""
    state = cokg_state()
    report: dict[str, Any] = {
        "status": "ok",
        "store": "reachable",
        "triples": None,
        "version": __version__,
        "backend": state.backend,
    }
    try:
        report["triples"] = state.store.count()
    except CokgError as error:
        report.update(status="unavailable", store="unreachable", error=str(error))
    if state.engine_status is not None:
        report["engine"] = state.engine_status()
    response = jsonify(report)
    if report["status"] != "ok":
        response.status_code = 503
        response.headers["Retry-After"] = str(state.retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response
