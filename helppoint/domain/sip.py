"""SIP help points: a unit that is a standard SIP intercom instead of a helppoint agent.

The device registers with a SIP account (digest authentication, RFC 2617 style HA1), is
supervised by its registration and keepalives, and presses by calling (INVITE). Its light and
other outputs are driven by an action configured per unit (docs/sip.md).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from helppoint.domain.errors import InvalidInput

#: What a SIP username and realm may contain: enough for every intercom's account settings,
#: and nothing that needs escaping in SIP, in the SIP server's configuration or in a URI.
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: DTMF digits a light action may send (RFC 4733 events 0-15).
_DTMF = re.compile(r"[0-9A-D*#]{1,16}")

#: The kinds of light action: DTMF in the call's RTP (RFC 4733), a SIP INFO in the call
#: (application/dtmf-relay), an HTTP GET to the device's own HTTP API (in a call or not), or
#: nothing (the unit's light is not switchable from here).
LIGHT_ACTIONS = ("none", "dtmf", "info", "http")
#: Longest URL of an HTTP light action (it is stored with the unit).
MAX_ACTION_URL = 400


def check_token(value: str, what: str) -> str:
    """A SIP username or realm, if it is 1-64 letters, digits, '.', '_' or '-'."""
    value = value.strip()
    if not _TOKEN.fullmatch(value):
        raise InvalidInput(
            f"{what} must be 1-64 letters, digits, '.', '_' or '-' (starting with a letter "
            f"or digit), not {value!r}"
        )
    return value


def digest_ha1(username: str, realm: str, password: str) -> str:
    """HA1 of HTTP digest authentication: MD5 of "username:realm:password", in hex.

    The SIP server checks a device's digest response against it, so the password itself is
    never stored. (MD5 is what SIP devices implement; the HA1 is as good as the password for
    this realm, and is kept like a secret.)
    """
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).hexdigest()


def parse_light_action(text: str) -> tuple[str, str]:
    """("dtmf", "*1") from "dtmf:*1", ("info", "5") from "info:5", ("http", URL) from
    "http:URL" (a GET of that http:// or https:// URL), ("none", "") from "none"."""
    kind, _, value = text.strip().partition(":")
    kind = kind.lower()
    if kind == "none" and not value:
        return "none", ""
    if kind == "http":
        return "http", check_action_url(value)
    if kind not in ("dtmf", "info"):
        raise InvalidInput(
            "a light action is none, dtmf:DIGITS, info:DIGITS or http:URL (e.g. dtmf:*1), "
            f"not {text[:80]!r}"
        )
    if not _DTMF.fullmatch(value):
        raise InvalidInput(f"{text[:80]!r}: the digits are 1-16 of 0-9, A-D, * and #")
    return kind, value


def check_action_url(url: str) -> str:
    """The URL of an HTTP light action, if it is an http:// or https:// URL of a host, without
    an account in it (the account is kept sealed, apart) and without spaces or control
    characters."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - an unparsable address or a port out of range raises here
    except ValueError:
        parts = urlsplit("")
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or len(url) > MAX_ACTION_URL
        or any(
            ord(c) <= 32 or ord(c) == 127 or c in '\\"<>' or "\ud800" <= c <= "\udfff" for c in url
        )
    ):
        raise InvalidInput(
            f"an HTTP light action is http:URL with an http:// or https:// URL of the device "
            f"(at most {MAX_ACTION_URL} characters, no spaces), e.g. "
            f"http:http://192.0.2.7/api/switch/ctrl?switch=1&action=on; not {url[:80]!r}"
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(
            "put no account in the URL of an HTTP light action: give it with --http-user and "
            "--http-password-stdin (it is stored sealed)"
        )
    return url


def action_target(url: str) -> str:
    """Where an HTTP action goes, as shown to operators: scheme, host and path (the query may
    carry the device's own codes, so it is left out)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


@dataclass(eq=False)
class SipAccount:
    """The SIP account of a SIP help point: who it is (username) and how it proves it (HA1)."""

    unit_id: str
    username: str
    realm: str
    ha1: str
    created_at: datetime
    #: What switches the unit's light on: "none", "dtmf:DIGITS" or "info:DIGITS" (in a
    #: call) or "http:URL" (the device's HTTP API, at any time).
    light_on: str = "none"
    #: What switches it off again.
    light_off: str = "none"
    active: bool = True
    #: The account of the device's HTTP API for http: actions, sealed (store/sealed.py), or
    #: None: the requests carry no credentials.
    http_account: str | None = None
    #: Offer SRTP (SDES) when calling the unit back, for a device that takes encrypted media
    #: only (a press is answered in SRTP whenever the device offers it, whatever this says).
    srtp: bool = False


def refusal_notice(event: Mapping[str, object]) -> str:
    """What a supervisor is told of traffic the SIP server refused (kamailio.cfg's HPSIP
    lines: refused, flood, malformed), in words that say what happened and what to check."""
    kind = str(event.get("event", ""))
    address = _shown(event.get("address")) or "an unknown address"
    if kind == "flood":
        return (
            f"SIP: a flood of requests from {address} is being dropped (more than the "
            "sip_rate limit in 2 s). Devices at other addresses are served."
        )
    if kind == "malformed":
        return f"SIP: malformed messages from {address} were dropped."
    user = _shown(event.get("user"))
    reason = _shown(event.get("reason")) or "refused"
    method = _shown(event.get("method")).upper()
    what = {"INVITE": "A call (press)", "REGISTER": "A registration"}.get(
        method, f"A SIP {method or 'request'}"
    )
    who = f'account "{user}"' if user else "no account"
    outcome = " No incident was opened." if method == "INVITE" else ""
    advice = {
        "unknown account": " If it is a help point, give it a SIP account (helppoint unit add "
        "--kind sip).",
        "wrong password": " If it is one of ours, check the password set in the device.",
        "not its own address": " A device may only register or call as its own account.",
    }.get(reason, "")
    return f"SIP: {what} from {address} with {who} was refused: {reason}.{outcome}{advice}"


def _shown(value: object) -> str:
    """A value from the SIP server as text for a notice: printable, at most 64 characters."""
    if value is None:
        return ""
    return "".join(c for c in str(value) if c.isprintable())[:64]
