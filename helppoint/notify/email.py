"""Email over SMTP, one message per notification; its Message-ID carries the idempotency key."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from helppoint.domain.notifications import Notification
from helppoint.notify.base import DeliveryFailed, IncidentFacts


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send email."""

    host: str
    port: int
    sender: str
    starttls: bool = False
    username: str = ""
    password: str = ""
    timeout: float = 15.0


def email_message(notification: Notification, incident: IncidentFacts, sender: str) -> EmailMessage:
    """The email for a notification; receivers deduplicate on its Message-ID."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = notification.target
    # A fault incident for the maintainers is not classified: say what it is instead.
    what = incident.classification_label or notification.kind.label
    kind = notification.kind.label
    test = "[TEST] " if incident.test else ""
    message["Subject"] = f"{test}[{kind}] {incident.ref}: {what} at {incident.unit_name}"
    message["Date"] = format_datetime(notification.created_at)
    message["Message-ID"] = f"<{notification.idempotency_key}@helppoint>"
    message["X-Helppoint-Idempotency-Key"] = notification.idempotency_key
    lines = [
        notification.message,
        "",
        f"Incident:       {incident.ref}",
        f"Classification: {incident.classification_label or 'not classified'}",
        f"Help point:     {incident.unit_id} {incident.unit_name}",
        f"Location:       {incident.latitude:.6f}, {incident.longitude:.6f}",
        f"Opened:         {incident.opened_at.isoformat()}",
    ]
    if incident.police_urn:
        lines.append(f"Police URN:     {incident.police_urn}")
    message.set_content("\n".join(lines) + "\n")
    return message


class EmailNotifier:
    """Sends the notification as an email through the configured SMTP server."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    async def notify(self, notification: Notification, incident: IncidentFacts) -> None:
        message = email_message(notification, incident, self.settings.sender)
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        send_email(self.settings, message)


def send_email(s: SmtpSettings, message: EmailMessage) -> None:
    """Send one message through the SMTP server (blocking); DeliveryFailed says why not."""
    try:
        with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as smtp:
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.username:
                smtp.login(s.username, s.password)
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryFailed(f"recipient refused: {exc.recipients}", retry=False) from exc
    except smtplib.SMTPResponseException as exc:
        # 5xx is permanent (bad address, policy); 4xx is worth retrying.
        retry = exc.smtp_code < 500
        raise DeliveryFailed(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", retry=retry) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc


def smtp_settings(settings: Any) -> SmtpSettings:
    """The SMTP settings of config.Settings."""
    return SmtpSettings(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_sender,
        settings.smtp_starttls,
        settings.smtp_username,
        settings.smtp_password,
    )
