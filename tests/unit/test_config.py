"""Settings: defaults, TOML file, environment, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from helppoint.config import ConfigError, Settings


def test_defaults_are_safe() -> None:
    settings = Settings.load(env={})
    assert settings.host == "127.0.0.1"
    assert settings.database_url.startswith("sqlite:///")
    assert settings.join_window == 300
    assert settings.ingest_writer == "process"


def test_file_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "helppoint.toml"
    config.write_text('port = 9000\njoin_window = 60\nhost = "0.0.0.0"\n')
    settings = Settings.load(
        config, env={"HELPPOINT_PORT": "9100", "HELPPOINT_SECURE_COOKIES": "yes"}
    )
    assert settings.port == 9100  # the environment wins over the file
    assert settings.join_window == 60
    assert settings.host == "0.0.0.0"
    assert settings.secure_cookies is True


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HELPPOINT_PORT": "eighty"}, "'port' must be a int"),
        ({"HELPPOINT_PORT": "70000"}, "port must be 1-65535"),
        ({"HELPPOINT_SECURE_COOKIES": "perhaps"}, "'secure_cookies' must be a bool"),
        ({"HELPPOINT_JOIN_WINDOW": "-1"}, "join_window must not be negative"),
        ({"HELPPOINT_INGEST_WRITER": "fork"}, "ingest_writer must be 'process' or 'thread'"),
        ({"HELPPOINT_SLA_TARGETS": "30:80,20:90"}, "sla_targets: .*shortest first"),
        ({"HELPPOINT_SLA_TARGETS": "thirty"}, "sla_targets: .*SECONDS:PERCENT"),
        ({"HELPPOINT_PRESS_LISTEN_SECONDS": "1"}, "press_listen_seconds must be 2-300"),
        ({"HELPPOINT_HYPERACTIVE_ALARMS": "0"}, "hyperactive_alarms must be 1-10000"),
    ],
)
def test_bad_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.load(env=env)


def test_bad_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.load(tmp_path / "missing.toml", env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("port = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.load(broken, env={})
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("colour = 'blue'")
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        Settings.load(unknown, env={})
