"""AgentSettings: how one unit's agent is configured (TOML file and HELPPOINT_AGENT_* variables)."""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from helppoint.agent.protocol import device_url

ENV_PREFIX = "HELPPOINT_AGENT_"


class AgentConfigError(ValueError):
    """The agent's configuration is missing something or has a value it cannot use.

    A ValueError of its own, not the server's ConfigError: the agent imports nothing of the
    server (an import-linter contract), so `helppoint agent` turns it into a ConfigError.
    """


@dataclass(frozen=True)
class AgentSettings:
    """Everything the agent on a unit needs to know."""

    # Required before the agent runs (see check()); empty while settings are being assembled
    # from a file, the environment and the command line.
    server_url: str = ""
    unit_id: str = ""
    key: str = field(default="", repr=False)  # the unit's secret: never in logs
    outbox_path: str = "/var/lib/helppoint-agent/outbox.sqlite"
    button_pin: int = 17
    light_pin: int = 27
    #: Seconds the button must be held to activate; 0 activates on the press.
    hold_time: float = 0.0
    bounce_time: float = 0.05
    #: Use gpiozero's mock pins (a test bench without a Raspberry Pi).
    mock_pins: bool = False
    #: Program that speaks a prompt, e.g. "espeak-ng {text}" or "aplay {file}"; None: silent.
    speaker_command: str | None = None
    prompt_dir: str | None = None
    camera_preset: str = "zoom"
    #: Seconds held after which the button is reported as stuck (a fault).
    stuck_after: float = 60.0
    #: Seconds the alarm flash lasts unless the control room changes it.
    alarm_light_seconds: float = 600.0
    #: Call media (docs/calls.md): microphone "tone" (synthetic), "none" or "alsa:DEVICE";
    #: speaker "meter" (measure only), "none" or "alsa:DEVICE"; camera "test" (pattern),
    #: "none", a device such as /dev/video0 or an RTSP URL.
    call_audio_input: str = "tone"
    call_audio_output: str = "meter"
    call_video_source: str = "test"
    #: A fixed built-in camera: crop by this factor (1 = off) when sent to the zoom preset.
    digital_zoom: float = 1.0
    #: Where the still sent on activation comes from: "" (none), "test-pattern" (a rendered
    #: picture, for simulation), a camera device (/dev/video0) or an RTSP URL (agent/stills.py).
    still_source: str = ""
    #: ONVIF PTZ camera (agent/camera_onvif.py); no host: the camera has no ONVIF control.
    onvif_host: str = ""
    onvif_port: int = 80
    onvif_user: str = ""
    onvif_password: str = field(default="", repr=False)
    #: Media profile token to move; empty: the camera's first profile.
    onvif_profile: str = ""
    #: Preset names the control room may choose, mapped to the camera's preset tokens:
    #: "zoom=1,home=2,gate=3". ``camera_preset`` (on activation) and ``home_preset`` (on
    #: close) must be among them.
    onvif_presets: str = "zoom=1,home=2"
    home_preset: str = "home"
    #: Where custom prompts (audio files uploaded by an admin) are cached, by checksum.
    prompt_cache_dir: str = "/var/lib/helppoint-agent/prompts"
    #: Program that plays a custom prompt's audio file ({file}); any format FFmpeg reads.
    prompt_file_command: str = "ffplay -nodisp -autoexit -loglevel error {file}"

    def __post_init__(self) -> None:
        if self.hold_time < 0 or self.bounce_time < 0:
            raise AgentConfigError("hold_time and bounce_time must not be negative")
        if self.stuck_after <= self.hold_time:
            raise AgentConfigError("stuck_after must be longer than hold_time")
        if self.alarm_light_seconds <= 0:
            raise AgentConfigError("alarm_light_seconds must be positive")
        for name in ("button_pin", "light_pin"):
            if not 0 <= getattr(self, name) <= 53:
                raise AgentConfigError(f"{name} must be a BCM GPIO number (0-53)")
        if not 1.0 <= self.digital_zoom <= 8.0:
            raise AgentConfigError("digital_zoom must be 1 (off) to 8")
        if not (
            self.call_audio_input in ("tone", "none") or self.call_audio_input.startswith("alsa:")
        ):
            raise AgentConfigError("call_audio_input must be tone, none or alsa:DEVICE")
        if not (
            self.call_audio_output in ("meter", "none")
            or self.call_audio_output.startswith("alsa:")
        ):
            raise AgentConfigError("call_audio_output must be meter, none or alsa:DEVICE")
        if self.button_pin == self.light_pin:
            raise AgentConfigError("button_pin and light_pin must be different pins")
        presets = self.preset_tokens()
        if self.onvif_host:
            if not 0 < self.onvif_port < 65536:
                raise AgentConfigError("onvif_port must be a TCP port (1-65535)")
            for name in ("camera_preset", "home_preset"):
                if getattr(self, name) not in presets:
                    raise AgentConfigError(
                        f"{name} {getattr(self, name)!r} is not in onvif_presets "
                        f"({', '.join(presets) or 'none'})"
                    )

    def preset_tokens(self) -> dict[str, str]:
        """onvif_presets as a mapping of preset name to ONVIF preset token."""
        tokens: dict[str, str] = {}
        for item in self.onvif_presets.split(","):
            if not item.strip():
                continue
            name, equals, token = (part.strip() for part in item.partition("="))
            if not equals or not name or not token or len(name) > 32:
                raise AgentConfigError(
                    f"onvif_presets: {item.strip()!r} must be NAME=TOKEN (e.g. zoom=1,home=2)"
                )
            tokens[name] = token
        return tokens

    def check(self) -> None:
        """Raise AgentConfigError unless the settings are complete enough to run the agent."""
        missing = [
            name for name in ("server_url", "unit_id", "key") if not getattr(self, name).strip()
        ]
        if missing:
            raise AgentConfigError(
                f"agent setting(s) missing: {', '.join(missing)} (set them in the config file, "
                f"as {ENV_PREFIX}* variables or on the command line)"
            )
        try:
            device_url(self.server_url)
        except ValueError as exc:
            raise AgentConfigError(str(exc)) from exc

    @classmethod
    def from_toml(cls, path: str | Path, env: dict[str, str] | None = None) -> AgentSettings:
        """Settings from a TOML file (top level or an ``[agent]`` table), then the environment.

        ``key_file = "/etc/helppoint/agent.key"`` may stand in for ``key``, so the secret can
        live in a file only the agent's user can read.
        """
        try:
            with Path(path).open("rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError as exc:
            raise AgentConfigError(f"agent config file {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise AgentConfigError(f"agent config file {path} is not valid TOML: {exc}") from exc
        table = data.get("agent", data)
        if not isinstance(table, dict):
            raise AgentConfigError(f"[agent] in {path} must be a table")
        return cls.from_values({**table, **_from_env(env)})

    @classmethod
    def from_env(
        cls, env: dict[str, str] | None = None, base: AgentSettings | None = None
    ) -> AgentSettings:
        """``base`` (or defaults) overridden by HELPPOINT_AGENT_* variables.

        Without a ``base``, HELPPOINT_AGENT_CONFIG may name a TOML file to start from.
        """
        variables = dict(os.environ if env is None else env)
        if base is not None:
            return base.replace(**_converted(_from_env(variables)))
        config = variables.get(f"{ENV_PREFIX}CONFIG")
        if config:
            return cls.from_toml(config, variables)
        return cls.from_values(_from_env(variables))

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> AgentSettings:
        """Settings from a mapping of names to values (strings are converted)."""
        return cls(**_converted(values))

    def replace(self, **changes: Any) -> AgentSettings:
        """A copy with some settings changed (values converted and checked like a file's)."""
        return dataclasses.replace(self, **_converted(changes))


def _converted(values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    key_file = values.pop("key_file", None)
    if key_file and not values.get("key"):
        try:
            values["key"] = Path(str(key_file)).read_text().strip()
        except OSError as exc:
            raise AgentConfigError(f"cannot read key_file {key_file}: {exc}") from exc
    known = {f.name for f in fields(AgentSettings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise AgentConfigError(
            f"unknown agent setting(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(known))}, key_file"
        )
    hints = typing.get_type_hints(AgentSettings)
    return {name: _convert(name, raw, hints[name]) for name, raw in values.items()}


def _from_env(env: dict[str, str] | None) -> dict[str, str]:
    variables = os.environ if env is None else env
    names = {f.name for f in fields(AgentSettings)} | {"key_file"}
    found: dict[str, str] = {}
    for name in names:
        variable = f"{ENV_PREFIX}{name.upper()}"
        if variable in variables:
            found[name] = variables[variable]
    return found


def _convert(name: str, raw: Any, hint: Any) -> Any:
    optional = isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint)
    kind = next(arg for arg in typing.get_args(hint) if arg is not type(None)) if optional else hint
    if raw is None or (optional and isinstance(raw, str) and not raw.strip()):
        if optional:
            return None
        raise AgentConfigError(f"agent setting {name!r} must not be empty")
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise AgentConfigError(f"agent setting {name!r} must be true or false, not {raw!r}")
    if kind in (int, float):
        what = "an integer" if kind is int else "a number"
        if isinstance(raw, bool) or (kind is int and isinstance(raw, float)):
            raise AgentConfigError(f"agent setting {name!r} must be {what}, not {raw!r}")
        try:
            return kind(raw.strip() if isinstance(raw, str) else raw)
        except (TypeError, ValueError) as exc:
            raise AgentConfigError(f"agent setting {name!r} must be {what}, not {raw!r}") from exc
    return str(raw)
