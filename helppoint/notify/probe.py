"""A test message through a channel, sent at an administrator's request (admin channels page).

It goes straight out, not through the outbox: the admin is waiting to see whether the SMTP
server or the webhook receiver answers, and a test is about no incident. The message says
plainly that it is a test, and a webhook receiver can tell by its `"test": true`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

import httpx

from helppoint.notify.base import DeliveryFailed
from helppoint.notify.email import SmtpSettings, send_email

PROBE_TIMEOUT = 15.0
TEST_SUBJECT = "[helppoint] Test message: no action needed"


def probe_email(to: str, sender: str, actor: str, at: datetime) -> EmailMessage:
    """The test email an administrator sends to check the SMTP settings and an address."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = TEST_SUBJECT
    message["Date"] = format_datetime(at)
    message["Message-ID"] = f"<test-{uuid.uuid4().hex}@helppoint>"
    message["X-Helppoint-Test"] = "1"
    message.set_content(
        "This is a test message from helppoint, sent by the administrator "
        f"{actor} at {at.isoformat(timespec='seconds')}.\n\n"
        "It is about no incident and needs no action. If it reached you, notifications to "
        "this address will too.\n"
    )
    return message


async def send_test_email(smtp: SmtpSettings, to: str, actor: str, at: datetime) -> None:
    """Send the test email now; DeliveryFailed says why it could not be sent."""
    await asyncio.to_thread(send_email, smtp, probe_email(to, smtp.sender, actor, at))


def probe_payload(actor: str, at: datetime) -> dict[str, object]:
    """The JSON a webhook receiver gets for a test (never mistaken for an incident)."""
    return {
        "test": True,
        "message": "Test message from helppoint: no incident, no action needed.",
        "sent_by": actor,
        "sent_at": at.isoformat(),
    }


async def send_test_webhook(url: str, actor: str, at: datetime) -> int:
    """POST the test payload; the HTTP status on success, DeliveryFailed otherwise."""
    body = json.dumps(probe_payload(actor, at)).encode()
    try:
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT, follow_redirects=False) as client:
            response = await client.post(
                url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "Idempotency-Key": f"test-{uuid.uuid4().hex}",
                    "User-Agent": "helppoint-outbox",
                    "X-Helppoint-Test": "1",
                },
            )
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    if not response.is_success:
        raise DeliveryFailed(f"HTTP {response.status_code} from {url}")
    return response.status_code
