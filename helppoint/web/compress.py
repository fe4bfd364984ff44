"""Gzip for what the public downloads on a phone (docs/performance.md, "Public map").

Only the public pages, their data and the static files they load are compressed: the public
map's first load is then about a third of its size, which on a slow mobile link is most of its
load time. Everything else — the console's feeds, recordings, clips, stills, tiles, the device
link — is passed through untouched.
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

#: Path prefixes whose responses are compressed (when the browser accepts gzip).
COMPRESSED = ("/help-points", "/p/", "/public/", "/open-data", "/static/", "/sw.js")


class PublicGZip:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=1000, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        is_pdf = path.endswith(".pdf")
        if path.startswith(COMPRESSED) and not is_pdf:
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
