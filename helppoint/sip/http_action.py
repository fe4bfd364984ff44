"""A SIP intercom's output driven through its own HTTP API (an http: light action).

Many intercoms switch their relays on an HTTP request to the device (the URL and its
parameters are each maker's own: docs/sip.md). helppoint sends a GET of the configured URL,
with the unit's HTTP account if it has one (HTTP digest, or basic when the device asks for
that), and reports what the device answered. Unlike DTMF and SIP INFO it needs no call.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx

from helppoint.domain.sip import action_target

#: Seconds the device has to answer.
HTTP_ACTION_TIMEOUT = 5.0


class HttpActionFailed(Exception):
    """The device did not do the action; the message says why (never the account)."""


class _DigestOrBasic(httpx.Auth):
    """Digest authentication, or basic if that is what the device asks for (HTTP 401)."""

    def __init__(self, user: str, password: str) -> None:
        self._digest = httpx.DigestAuth(user, password)
        self._basic = httpx.BasicAuth(user, password)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        response = yield request
        if response.status_code != 401:
            return
        challenge = response.headers.get("www-authenticate", "").lower()
        scheme = self._basic if challenge.startswith("basic") else self._digest
        flow = scheme.auth_flow(request)
        retried = next(flow)
        if scheme is self._digest:
            # DigestAuth's flow first sends the request bare to get a challenge: we have one.
            try:
                retried = flow.send(response)
            except StopIteration:
                return
        yield retried


async def send_http_action(
    url: str, account: tuple[str, str] | None, wait: float = HTTP_ACTION_TIMEOUT
) -> str:
    """GET `url`; what to show as done ("sent as HTTP GET to …: 200 OK") or HttpActionFailed."""
    target = action_target(url)
    auth = _DigestOrBasic(*account) if account is not None else None
    try:
        async with httpx.AsyncClient(timeout=wait, follow_redirects=False) as client:
            response = await client.get(url, auth=auth)
    except httpx.TimeoutException:
        raise HttpActionFailed(f"{target} did not answer within {wait:g} s") from None
    except httpx.HTTPError as exc:
        raise HttpActionFailed(f"{target} cannot be reached ({type(exc).__name__})") from None
    status = f"{response.status_code} {response.reason_phrase}".strip()
    if response.status_code in (401, 403):
        raise HttpActionFailed(
            f"{target} refused the request ({status}): check the unit's HTTP account"
        )
    if not response.is_success:
        raise HttpActionFailed(f"{target} answered {status}")
    return f"sent as HTTP GET to {target}: {status}"
