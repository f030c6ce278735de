"""Writes need the operator's bearer token: SPARQL Update and Graph Store writes.

No token configured (``COKG_WRITE_TOKEN`` unset or empty) means writes are off: 403 for
everyone. A request without a bearer token gets 401 with ``WWW-Authenticate: Bearer
realm="cokg"``; a wrong token 403. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import request
from werkzeug.exceptions import Forbidden, Unauthorized

from cokg.store import WritableStore

from .state import cokg_state

REALM = "cokg"


class TokenMissing(Unauthorized):
    """401 with the bearer challenge (werkzeug would leave the realm unquoted)."""

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        """Return the headers of the answer, ``WWW-Authenticate`` among them."""
        headers = super().get_headers(*args, **kwargs)
        return [*headers, ("WWW-Authenticate", f'Bearer realm="{REALM}"')]


def writable_store() -> WritableStore:
    """Return the app's store once the request has shown the write token.

    Raises 403 :class:`~werkzeug.exceptions.Forbidden` when writes are off or the token is
    wrong, 401 :class:`~werkzeug.exceptions.Unauthorized` when the request has none.
    """
    state = cokg_state()
    if not isinstance(state.store, WritableStore):
        raise Forbidden("this server's store is read-only: it accepts no updates or writes")
    if not state.write_token:
        raise Forbidden(
            "writes are disabled on this server: the operator has configured no write token "
            "(COKG_WRITE_TOKEN)"
        )
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise TokenMissing(
            "this request writes: send the operator's token as `Authorization: Bearer TOKEN`"
        )
    if not hmac.compare_digest(credentials.strip().encode(), state.write_token.encode()):
        raise Forbidden("the bearer token is not valid for writes on this server")
    return state.store
