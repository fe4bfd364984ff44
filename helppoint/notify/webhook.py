"""HTTPS webhook channels: an EIDO-style JSON incident, or an OASIS CAP 1.2 XML alert."""

from __future__ import annotations

import json

import httpx

from helppoint.domain.notifications import Notification
from helppoint.notify.base import DeliveryFailed, IncidentFacts
from helppoint.notify.cap import cap_alert
from helppoint.notify.eido import eido_incident

#: Status codes worth retrying although they are 4xx.
_RETRYABLE_4XX = frozenset({408, 409, 425, 429})


async def _post(
    client: httpx.AsyncClient, url: str, body: bytes, content_type: str, key: str
) -> None:
    try:
        response = await client.post(
            url,
            content=body,
            headers={
                "Content-Type": content_type,
                "Idempotency-Key": key,
                "User-Agent": "helppoint-outbox",
            },
        )
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    if response.is_success:
        return
    retry = response.status_code >= 500 or response.status_code in _RETRYABLE_4XX
    raise DeliveryFailed(f"HTTP {response.status_code} from {url}", retry=retry)


class WebhookNotifier:
    """POSTs the incident as EIDO-style JSON with an Idempotency-Key header."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def notify(self, notification: Notification, incident: IncidentFacts) -> None:
        body = json.dumps(eido_incident(notification, incident)).encode("utf-8")
        await _post(
            self.client,
            notification.target,
            body,
            "application/json",
            notification.idempotency_key,
        )


class CapNotifier:
    """POSTs an OASIS CAP 1.2 alert (XML) with an Idempotency-Key header."""

    def __init__(self, client: httpx.AsyncClient, sender: str) -> None:
        self.client = client
        self.sender = sender

    async def notify(self, notification: Notification, incident: IncidentFacts) -> None:
        body = cap_alert(notification, incident, self.sender)
        await _post(
            self.client,
            notification.target,
            body,
            "application/cap+xml",
            notification.idempotency_key,
        )
