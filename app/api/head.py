"""HEAD on every GET route (RFC 9110 §9.3.2): the GET response's headers, no body.

FastAPI routes answer only the methods they declare, so a HEAD without a route of its own
(``/healthz``, ``/v1/schemes``...) would be a 405. This middleware hands such a HEAD to the
application as a GET; the server (uvicorn, which still sees HEAD) sends the headers,
``Content-Length`` included, and drops the body. Routes that declare HEAD themselves (the GET
shortcut's, which never generates) keep it.
"""

from __future__ import annotations

from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send


class HeadAsGet:
    """ASGI middleware: a HEAD that only a GET route matches is served by that route."""

    def __init__(self, app: ASGIApp, routes_of: ASGIApp) -> None:
        self.app = app
        self.routes_of = routes_of  # the application whose routes are consulted

    def _get_only(self, scope: Scope) -> bool:
        routes = getattr(self.routes_of, "routes", [])
        matches = [route.matches(scope)[0] for route in routes]
        if Match.FULL in matches:
            return False
        as_get = {**scope, "method": "GET"}
        return any(route.matches(as_get)[0] is Match.FULL for route in routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "HEAD" and self._get_only(scope):
            scope = {**scope, "method": "GET"}
        await self.app(scope, receive, send)
