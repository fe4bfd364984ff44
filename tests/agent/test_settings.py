"""AgentSettings from a TOML file, the environment and the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from helppoint.agent.settings import AgentConfigError, AgentSettings

CONFIG = """
[agent]
server_url = "ws://control.example.org:8800/device/v1"
unit_id = "HP-03"
key_file = "{key_file}"
outbox_path = "/var/lib/helppoint-agent/outbox.sqlite"
button_pin = 22
hold_time = 0.5
speaker_command = "espeak-ng {{text}}"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    key_file = tmp_path / "agent.key"
    key_file.write_text("s3cret\n")
    path = tmp_path / "agent.toml"
    path.write_text(CONFIG.format(key_file=key_file))
    return path


def test_from_toml_reads_the_agent_table_and_the_key_file(config_file: Path) -> None:
    settings = AgentSettings.from_toml(config_file, env={})
    assert settings.unit_id == "HP-03"
    assert settings.key == "s3cret"
    assert (settings.button_pin, settings.light_pin) == (22, 27)
    assert settings.hold_time == 0.5 and settings.bounce_time == 0.05
    assert settings.speaker_command == "espeak-ng {text}"
    assert "s3cret" not in repr(settings)
    settings.check()


def test_environment_overrides_the_file(config_file: Path) -> None:
    env = {
        "HELPPOINT_AGENT_HOLD_TIME": "0",
        "HELPPOINT_AGENT_MOCK_PINS": "yes",
        "HELPPOINT_AGENT_SPEAKER_COMMAND": "",
    }
    settings = AgentSettings.from_toml(config_file, env=env)
    assert settings.hold_time == 0.0 and settings.mock_pins is True
    assert settings.speaker_command is None
    via_config = AgentSettings.from_env({"HELPPOINT_AGENT_CONFIG": str(config_file), **env})
    assert via_config == settings


def test_from_env_with_a_base_and_replace_like_the_cli(config_file: Path) -> None:
    base = AgentSettings.from_toml(config_file, env={})
    settings = AgentSettings.from_env({"HELPPOINT_AGENT_UNIT_ID": "HP-04"}, base=base)
    assert settings.unit_id == "HP-04" and settings.key == "s3cret"
    settings = settings.replace(outbox_path="/tmp/o.sqlite", hold_time="1.5")
    assert settings.outbox_path == "/tmp/o.sqlite" and settings.hold_time == 1.5


def test_settings_can_be_assembled_before_they_are_complete() -> None:
    partial = AgentSettings.from_env({})
    with pytest.raises(AgentConfigError, match="missing: server_url, unit_id, key"):
        partial.check()
    complete = partial.replace(server_url="http://h:8800", unit_id="HP-01", key="k")
    complete.check()
    with pytest.raises(AgentConfigError, match="must look like"):
        complete.replace(server_url="h:8800").check()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"button_pin": "x"}, "must be an integer"),
        ({"button_pin": 2.5}, "must be an integer"),
        ({"light_pin": 99}, "BCM GPIO"),
        ({"light_pin": 17}, "different pins"),
        ({"hold_time": -1}, "negative"),
        ({"mock_pins": "maybe"}, "true or false"),
        ({"colour": "blue"}, "unknown agent setting"),
        ({"key_file": "/nonexistent/agent.key"}, "cannot read key_file"),
    ],
)
def test_bad_values_are_refused_clearly(values: dict[str, object], message: str) -> None:
    with pytest.raises(AgentConfigError, match=message):
        AgentSettings.from_values({"server_url": "ws://h:1", "unit_id": "u", **values})


def test_file_problems_are_agent_config_errors(tmp_path: Path) -> None:
    with pytest.raises(AgentConfigError, match="does not exist"):
        AgentSettings.from_toml(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("unit_id = ")
    with pytest.raises(AgentConfigError, match="not valid TOML"):
        AgentSettings.from_toml(broken)
