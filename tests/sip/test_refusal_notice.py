"""What a supervisor is told of refused SIP traffic (no server: the words only)."""

from __future__ import annotations

from helppoint.domain.sip import refusal_notice


def test_a_wrong_password_at_registration_says_what_to_check() -> None:
    notice = refusal_notice(
        {
            "event": "refused",
            "reason": "wrong password",
            "method": "REGISTER",
            "user": "SIP-01",
            "address": "192.0.2.7",
        }
    )
    assert notice == (
        'SIP: A registration from 192.0.2.7 with account "SIP-01" was refused: wrong password. '
        "If it is one of ours, check the password set in the device."
    )


def test_a_call_as_another_account_is_refused_without_an_incident() -> None:
    notice = refusal_notice(
        {
            "event": "refused",
            "reason": "not its own address",
            "method": "invite",
            "user": "SIP-02",
            "address": "192.0.2.8",
        }
    )
    assert "A call (press) from 192.0.2.8" in notice
    assert "No incident was opened." in notice
    assert "only register or call as its own account" in notice


def test_floods_and_malformed_traffic_name_the_address() -> None:
    assert refusal_notice({"event": "malformed", "address": "198.51.100.1"}) == (
        "SIP: malformed messages from 198.51.100.1 were dropped."
    )
    assert "flood of requests from 198.51.100.2" in refusal_notice(
        {"event": "flood", "address": "198.51.100.2"}
    )


def test_what_the_sip_server_passes_on_is_shown_printable_and_short() -> None:
    notice = refusal_notice(
        {
            "event": "refused",
            "reason": "unknown account",
            "method": "OPTIONS",
            "user": "evil\r\n\x1b[31m" + "x" * 500 + "\ud800",
        }
    )
    assert "\r" not in notice and "\x1b" not in notice and "\ud800" not in notice
    assert "x" * 65 not in notice
    assert notice.startswith("SIP: A SIP OPTIONS from an unknown address with account")
