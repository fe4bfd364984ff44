"""The security settings: defaults, environment overrides and refused values."""

from __future__ import annotations

import pytest

from helppoint.config import ConfigError, Settings


def test_defaults_are_safe() -> None:
    settings = Settings()
    assert settings.session_idle_timeout == 3600
    assert settings.session_idle_timeout < settings.session_lifetime
    assert settings.hsts_seconds >= 180 * 24 * 3600
    assert settings.login_max_failures == 5


def test_the_environment_overrides_them() -> None:
    env = {"HELPPOINT_SESSION_IDLE_TIMEOUT": "600", "HELPPOINT_HSTS_SECONDS": "0"}
    settings = Settings.load(env=env)
    assert (settings.session_idle_timeout, settings.hsts_seconds) == (600, 0)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("session_idle_timeout", 59, "session_idle_timeout must be at least 60 seconds"),
        ("hsts_seconds", -1, "hsts_seconds must not be negative"),
        ("login_max_failures", 0, "must be ≥ 1"),
        ("login_address_max_failures", 0, "must be ≥ 1"),
        ("login_failure_window", 0, "must be ≥ 1"),
        ("login_lockout_seconds", 0, "must be ≥ 1"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(name: str, value: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings().with_values({name: value})
