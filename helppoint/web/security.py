"""Browser-facing protections in one ASGI middleware: security headers (CSP) and CSRF.

Every response gets a strict Content-Security-Policy (no inline script or style), nosniff,
a referrer policy and frame-ancestors 'none'; HSTS is added when the request came in over
HTTPS. Every state-changing HTTP request that carries the session cookie (or a pending
two-factor sign-in cookie) must prove it came from our own page: an `X-CSRF-Token` header (the
console's fetches, see static/api.js) or a `csrf_token` form field (HTML forms) equal to a
token derived from that cookie. WebSocket handshakes that carry the cookie must come from our
own origin. Unit endpoints authenticate with the unit key, not a cookie, and are untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, MutableMapping
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlparse

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request

from helppoint.tasks import cancel_and_wait
from helppoint.web.deps import SESSION_COOKIE, bearer_token

#: The header of every answer giving the server's clock (Unix time in ms; api.js).
TIME_HEADER = b"helppoint-time"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Holds a half-finished sign-in (password right, second factor still to come).
PENDING_COOKIE = "helppoint_2fa"
#: Readable by the page's scripts (not HttpOnly): api.js copies it into the header.
CSRF_COOKIE = "helppoint_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Largest form body read to find the token (login and 2FA forms are tiny).
MAX_FORM_BYTES = 64 * 1024
CLOSE_FORBIDDEN = 4403


#: Endpoints (uploads) that accept larger request bodies than `max_body_bytes`, and how large.
_BODY_LIMITS: dict[Callable[..., Any], int] = {}

_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])


def accepts_body_up_to(limit: int) -> Callable[[_Endpoint], _Endpoint]:
    """Let an endpoint (an upload) take request bodies up to `limit` bytes instead of the
    server's `max_body_bytes`; put it under the route decorator."""

    def mark(endpoint: _Endpoint) -> _Endpoint:
        _BODY_LIMITS[endpoint] = limit
        return endpoint

    return mark


class BodyTooLarge(HTTPException):
    """A request body passed what its endpoint accepts (HTTP 413, with the limit)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413, f"the request body is larger than {limit} bytes, the most this endpoint accepts"
        )


def _limited(scope: Scope, receive: Receive, headers: dict[str, str], default: int) -> Receive:
    """`receive`, refusing a body larger than its endpoint accepts as it streams in.

    The limit is looked up at the first read, once routing has found the endpoint (before
    that, only the CSRF check reads forms, with its own smaller limit). A body announced as too
    large is refused before any of it is read. Raising BodyTooLarge inside the app's read
    makes the app answer 413 like any HTTPException, with the security headers.
    """
    declared = headers.get("content-length", "")
    size = 0

    async def limited() -> Message:
        nonlocal size
        endpoint = scope.get("endpoint")
        limit = _BODY_LIMITS.get(endpoint, default) if endpoint is not None else default
        if declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(limit)
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise BodyTooLarge(limit)
        return message

    return limited


def csrf_token_for(cookie_value: str) -> str:
    """The CSRF token for a session (or pending sign-in) cookie.

    Derived from the secret cookie, so a page on another site can neither read nor compute it,
    and it changes with every sign-in; nothing extra is stored.
    """
    return hashlib.sha256(b"helppoint-csrf\x00" + cookie_value.encode()).hexdigest()


def tile_source(map_tiles_url: str) -> str:
    """The CSP source for a Leaflet tile URL template ('{s}.tile.x.org' → '*.tile.x.org')."""
    parsed = urlparse(map_tiles_url.replace("{s}", "tiles-subdomain"))
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return ""
    host = parsed.netloc.replace("tiles-subdomain", "*")
    return f"{parsed.scheme}://{host}"


def content_security_policy(host: str, secure: bool, tiles: str = "") -> str:
    """The CSP for every response: only our own scripts and styles, nothing inline."""
    ws = f"wss://{host}" if secure else f"ws://{host} wss://{host}"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            # Map tiles come from the configured tile server; Leaflet's markers use data:
            # URLs; camera stills use blob: URLs.
            f"img-src 'self' data: blob: {tiles}".strip(),
            "font-src 'self'",
            f"connect-src 'self' {ws}",
            # The WebRTC call plays the unit's audio/video from a MediaStream (blob:).
            "media-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


#: FastAPI's API documentation pages load Swagger UI / ReDoc from a CDN and start them with an
#: inline script. They show no incident data of their own, so they get their own, looser policy
#: instead of being broken by the strict one.
API_DOC_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
API_DOC_CDN = "https://cdn.jsdelivr.net"


def api_docs_policy() -> str:
    """The CSP of the API documentation pages only."""
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'unsafe-inline' {API_DOC_CDN}",
            f"style-src 'self' 'unsafe-inline' {API_DOC_CDN} https://fonts.googleapis.com",
            "font-src 'self' https://fonts.gstatic.com",
            "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly",
            "worker-src 'self' blob:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def request_cookies(scope: Scope) -> dict[str, str]:
    """The cookies of an HTTP request or WebSocket handshake, read exactly as authentication
    reads them (`request.cookies`, `websocket.cookies`: Starlette's lenient parser over every
    Cookie header; a cookie it cannot parse is skipped, the last of a name wins).

    Any other parser can disagree with authentication: `SimpleCookie` stopped at the first
    cookie it could not parse, so `a[b]=1; helppoint_session=…` was signed in and yet, to the
    CSRF check, carried no session.
    """
    return HTTPConnection(scope).cookies


def browser_credential(cookies: Mapping[str, str]) -> str:
    """The secret cookie a browser sends by itself with every request (the session, or a
    pending two-factor sign-in), or "" when there is none."""
    return cookies.get(SESSION_COOKIE) or cookies.get(PENDING_COOKIE) or ""


def csrf_proof_needed(method: str, cookies: Mapping[str, str]) -> bool:
    """Whether a request must carry the CSRF token (X-CSRF-Token header or csrf_token field).

    The one place this is decided. Only credentials a browser attaches by itself can be
    abused by another site's page: a state-changing request carrying them needs the token. A
    request authenticated otherwise (a unit's key in a header) or not at all needs none.
    (Apart from this, no state-changing request may come from another origin, whatever its
    credentials: the middleware refuses those first, which stops login CSRF.)
    """
    return method in UNSAFE_METHODS and bool(browser_credential(cookies))


def _same_origin(scope: Scope) -> bool:
    """False when the browser says the request came from another origin: an Origin header (any,
    if several) that names another host than the request's, `Origin: null` included (a
    sandboxed frame, a page that hides its address); without Origin, a Referer from another
    host. A request with neither (a script, a unit) is not from a browser page."""
    host = ""
    origins: list[str] = []
    referers: list[str] = []
    for name, value in scope["headers"]:
        name = name.lower()
        if name == b"host":
            host = value.decode("latin-1").lower()
        elif name == b"origin":
            origins.append(value.decode("latin-1"))
        elif name == b"referer":
            referers.append(value.decode("latin-1"))
    for url in origins or referers:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or parsed.netloc.lower() != host:
            return False
    return True


def secure_cookie(request: Request) -> bool:
    """Whether cookies set in answer to `request` get the Secure flag: always with the
    `secure_cookies` setting, and whenever the request came in over HTTPS — directly, or
    through a reverse proxy trusted by `forwarded_allow_ips` (its X-Forwarded-Proto)."""
    return bool(request.app.state.settings.secure_cookies) or request.url.scheme == "https"


def _cookie_header(name: str, value: str, secure: bool, max_age: int | None = None) -> bytes:
    parts = [f"{name}={value}", "Path=/", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")


class SecurityMiddleware:
    """Adds the security headers and enforces CSRF on cookie-authenticated requests."""

    def __init__(
        self,
        app: ASGIApp,
        hsts_seconds: int = 0,
        secure_cookies: bool = False,
        map_tiles_url: str = "",
        max_body_bytes: int | None = None,
    ):
        self.app = app
        self.tiles = tile_source(map_tiles_url)
        self.hsts_seconds = hsts_seconds
        self.secure_cookies = secure_cookies
        #: The most bytes a request body may have, unless its endpoint accepts more (None: no
        #: limit).
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if browser_credential(request_cookies(scope)) and not _same_origin(scope):
            # Cross-site WebSocket hijacking: refuse before the app sees the handshake.
            if "websocket.http.response" in scope.get("extensions", {}):
                static = self._static_headers(_headers(scope), scope.get("scheme") == "wss")
                await _refuse(send, 403, "cross-site request refused", static, websocket=True)
            else:
                await send({"type": "websocket.close", "code": CLOSE_FORBIDDEN})
            return
        await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        cookies = request_cookies(scope)
        secret = browser_credential(cookies)
        expected = csrf_token_for(secret) if secret else ""
        scope.setdefault("state", {})["csrf_token"] = expected
        secure = scope.get("scheme") == "https"
        static = self._static_headers(headers, secure)
        if scope.get("path") in API_DOC_PATHS:
            static["content-security-policy"] = api_docs_policy()

        if scope["method"] in UNSAFE_METHODS and not _same_origin(scope):
            # Whether or not it carries our cookies: a page of another site may not sign
            # anyone in (login CSRF) or change anything here.
            await _refuse(send, 403, "cross-site request refused", static)
            return
        if self.max_body_bytes is not None:
            receive = _limited(scope, receive, headers, self.max_body_bytes)

        # A script's bearer token is not ambient authority: no CSRF proof (web/api_tokens.py).
        if csrf_proof_needed(scope["method"], cookies) and not bearer_token(headers):
            try:
                status, problem, receive = await self._check(scope, receive, headers, expected)
            except BodyTooLarge as exc:
                status, problem = exc.status_code, exc.detail
            if problem:
                await _refuse(send, status, problem, static)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                present = {k.lower() for k, _ in raw}
                for name, value in static.items():
                    if name.encode() not in present:
                        raw.append((name.encode(), value.encode("latin-1")))
                raw.extend(self._csrf_cookie(raw, cookies, expected, secure))
                # The server's clock when it answered, in milliseconds: the console's alarm
                # timers are corrected by it (api.js). The Date header cannot serve: it has
                # one-second resolution and uvicorn refreshes it about once a second on its
                # loop, so on a busy server it may predate the request by a second or more.
                raw.append((TIME_HEADER, b"%d" % (time.time() * 1000)))
                message["headers"] = raw
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _check(
        self, scope: Scope, receive: Receive, headers: dict[str, str], expected: str
    ) -> tuple[int, str, Receive]:
        """(status, '', receive) when the request proves it comes from our page (its origin
        was checked before), else (status, reason, receive)."""
        sent = headers.get(CSRF_HEADER, "")
        if sent:
            ok = hmac.compare_digest(sent.encode(), expected.encode())
            return 403, ("" if ok else "wrong CSRF token; reload the page"), receive
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return 403, "missing CSRF token (X-CSRF-Token header); reload the page", receive
        body, complete = await _read_body(receive, MAX_FORM_BYTES)
        if not complete:
            return 413, f"the form is larger than {MAX_FORM_BYTES} bytes", receive
        fields = parse_qs(body.decode("latin-1"), keep_blank_values=True)
        sent = (fields.get(CSRF_FIELD) or [""])[0]
        ok = bool(sent) and hmac.compare_digest(sent.encode(), expected.encode())
        problem = "" if ok else "missing or wrong CSRF token; reload the page"
        return 403, problem, _replay(body, receive)

    def _static_headers(self, headers: dict[str, str], secure: bool) -> dict[str, str]:
        host = headers.get("host", "localhost")
        values = {
            "content-security-policy": content_security_policy(host, secure, self.tiles),
            "x-content-type-options": "nosniff",
            "x-frame-options": "DENY",
            "referrer-policy": "same-origin",
            "cross-origin-opener-policy": "same-origin",
        }
        if secure and self.hsts_seconds > 0:
            values["strict-transport-security"] = f"max-age={self.hsts_seconds}"
        return values

    def _csrf_cookie(
        self, raw: list[tuple[bytes, bytes]], cookies: dict[str, str], expected: str, secure: bool
    ) -> list[tuple[bytes, bytes]]:
        """Keep the readable CSRF cookie in step with the session (or pending sign-in) cookie."""
        secure = secure or self.secure_cookies
        for cookie in (SESSION_COOKIE, PENDING_COOKIE):
            prefix = f"{cookie}=".encode()
            for name, value in raw:
                if name.lower() != b"set-cookie" or not value.startswith(prefix):
                    continue
                token = value[len(prefix) :].split(b";")[0].strip(b'"').decode("latin-1")
                if token and b"max-age=0" not in value.lower():
                    fresh = _cookie_header(CSRF_COOKIE, csrf_token_for(token), secure)
                    return [(b"set-cookie", fresh)]
                if cookie == SESSION_COOKIE:
                    gone = _cookie_header(CSRF_COOKIE, '""', secure, max_age=0)
                    return [(b"set-cookie", gone)]
        if expected and cookies.get(CSRF_COOKIE) != expected:
            return [(b"set-cookie", _cookie_header(CSRF_COOKIE, expected, secure))]
        return []


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", False
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then the client's own messages (for its disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _refuse(
    send: Send, status: int, reason: str, headers: dict[str, str], websocket: bool = False
) -> None:
    """Answer with an error before the app sees the request (an HTTP response, or a WebSocket
    handshake's denial response)."""
    body = json.dumps({"detail": reason}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw.extend((k.encode(), v.encode("latin-1")) for k, v in headers.items())
    prefix = "websocket.http.response" if websocket else "http.response"
    await send({"type": f"{prefix}.start", "status": status, "headers": raw})
    await send({"type": f"{prefix}.body", "body": body})


def login_options(settings: Any) -> dict[str, Any]:
    """Keyword arguments for operators.login / complete_sign_in from the settings."""
    from helppoint.services.login_throttle import ThrottlePolicies

    return {
        "lifetime": timedelta(seconds=settings.session_lifetime),
        "idle": timedelta(seconds=settings.session_idle_timeout),
        "throttle": ThrottlePolicies.from_settings(settings),
    }


def set_pending_cookie(response: Any, token: str, secure: bool) -> None:
    """The cookie of a sign-in waiting for its second factor (five minutes)."""
    response.set_cookie(
        PENDING_COOKIE,
        token,
        max_age=300,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )


#: How often a live console feed re-checks its session (expired, idle, signed out, disabled).
SESSION_RECHECK_SECONDS = 30.0


async def wait_while_signed_in(app: Any, token: str, until: asyncio.Task[Any]) -> bool:
    """Wait until `until` finishes (True) or the session stops being valid (False).

    Each check counts as use of the session: an open console keeps its operator signed in
    (the idle timeout is for forgotten browsers, not for a console on the wall).
    """
    from helppoint.services import operators as operator_service

    interval = float(getattr(app.state, "session_recheck_seconds", SESSION_RECHECK_SECONDS))
    while True:
        await asyncio.wait({until}, timeout=interval)
        if until.done():
            return True
        operator = await run_in_threadpool(
            operator_service.operator_for_session, app.state.uow_factory(), token
        )
        if operator is None:
            return False


async def drain_while_signed_in(
    websocket: Any, token: str, drain: Callable[[Any], Coroutine[Any, Any, None]]
) -> None:
    """Run a feed's `drain(websocket)` (reading until the browser goes away); close the feed
    with 4401 once its session has ended (expired, idle, signed out, user disabled)."""
    reader = asyncio.create_task(drain(websocket))
    try:
        if not await wait_while_signed_in(websocket.app, token, reader):
            with contextlib.suppress(Exception):
                await websocket.close(4401, "session ended; sign in again")
    finally:
        await cancel_and_wait(reader, ignoring=(Exception,))
