"""Camera presets and spoken prompts.

v1 has no ONVIF client yet: :class:`LoggingCamera` only logs the preset asked for, and
:class:`SimulatedCamera` remembers it. Prompts are spoken by :class:`CommandSpeaker`, which
runs a configured program (``espeak-ng {text}``, ``aplay {file}``); its failures are logged,
never raised, because a broken speaker must not stop a press from reaching the control room.
"""

from __future__ import annotations

import logging
import shlex
import string
import subprocess
import threading
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

#: The prompts a unit can play, by message name (see docs/device-protocol.md).
PROMPTS: dict[str, str] = {
    "connecting": "Connecting you to the control room",
    "help_on_way": "Help is on the way",
    "stay_calm": "Please stay where you are; the control room can see you",
}

DEFAULT_PROMPT_DIR = "/usr/share/helppoint/prompts"


class UnknownPrompt(ValueError):
    """A message name that is not in PROMPTS."""

    def __init__(self, message: str) -> None:
        super().__init__(f"unknown message {message!r}; known: {', '.join(sorted(PROMPTS))}")
        self.message = message


def prompt_text(message: str) -> str:
    """The words of a prompt, or UnknownPrompt."""
    try:
        return PROMPTS[message]
    except KeyError:
        raise UnknownPrompt(message) from None


class Camera(Protocol):
    """A camera that can move to a named preset."""

    def goto_preset(self, preset: str) -> None:
        """Move to ``preset`` (e.g. "zoom", the view of a person at the unit)."""


class LoggingCamera:
    """Stands in for the ONVIF camera until that client exists: logs each preset request."""

    def goto_preset(self, preset: str) -> None:
        """Log the request."""
        log.info("camera: preset %s requested", preset)


class SimulatedCamera(LoggingCamera):
    """A camera for tests and simulations: remembers every preset requested."""

    def __init__(self) -> None:
        self.presets: list[str] = []

    @property
    def preset(self) -> str | None:
        """The last preset requested."""
        return self.presets[-1] if self.presets else None

    def goto_preset(self, preset: str) -> None:
        """Record (and log) the request."""
        self.presets.append(preset)
        log.debug("camera: preset %s requested", preset)


class Speaker(Protocol):
    """Plays a prompt by message name."""

    def play(self, message: str) -> None:
        """Start playing ``message``; UnknownPrompt if there is no such prompt."""


class SimulatedSpeaker:
    """A speaker for tests and simulations: remembers what it played."""

    def __init__(self) -> None:
        self.played: list[str] = []
        self.volume = 80
        #: Prompt texts changed by remote configuration (message name → words).
        self.texts: dict[str, str] = {}

    def set_volume(self, percent: int) -> None:
        """Set the playback volume (0-100 %)."""
        self.volume = percent

    def play(self, message: str) -> None:
        """Record the prompt."""
        prompt_text(message)
        self.played.append(message)


class LoggingSpeaker:
    """For a unit with no speaker command configured: logs each prompt it would play."""

    def play(self, message: str) -> None:
        """Log the prompt."""
        log.info("speaker: %s (%s)", message, prompt_text(message))


class CommandSpeaker:
    """Plays prompts by running a program, e.g. ``espeak-ng {text}`` or ``aplay {file}``.

    Placeholders: ``{text}`` (the words), ``{message}`` (the name) and ``{file}``
    (``PROMPT_DIR/NAME.wav``). The command is split like a shell line but not run by a shell,
    so the prompt text cannot inject anything. A new prompt cuts off the one still playing.
    """

    PLACEHOLDERS = frozenset({"text", "message", "file"})

    def __init__(self, command: str, prompt_dir: str | None = None) -> None:
        try:
            self._argv = shlex.split(command)
        except ValueError as exc:
            raise ValueError(f"speaker command {command!r} cannot be parsed: {exc}") from exc
        if not self._argv:
            raise ValueError("speaker command is empty")
        for arg in self._argv:
            try:
                fields = {name for _, name, _, _ in string.Formatter().parse(arg) if name}
            except ValueError as exc:
                raise ValueError(f"speaker command {command!r}: {exc}") from exc
            unknown = fields - self.PLACEHOLDERS
            if unknown:
                raise ValueError(
                    f"speaker command {command!r} uses unknown placeholder(s) "
                    f"{', '.join(sorted(unknown))}; use {{text}}, {{message}} or {{file}}"
                )
        self.command = command
        self.prompt_dir = Path(prompt_dir or DEFAULT_PROMPT_DIR)
        self.failures = 0
        #: Prompt texts changed by remote configuration (message name → words).
        self.texts: dict[str, str] = {}
        self._lock = threading.Lock()
        self._current: subprocess.Popen[bytes] | None = None

    def argv(self, message: str) -> list[str]:
        """The program and arguments that play ``message``."""
        values = {
            "text": self.texts.get(message) or prompt_text(message),
            "message": message,
            "file": str(self.prompt_dir / f"{message}.wav"),
        }
        return [arg.format(**values) for arg in self._argv]

    def play(self, message: str) -> None:
        """Start the program in the background; failures are logged, not raised."""
        argv = self.argv(message)
        with self._lock:
            if self._current is not None and self._current.poll() is None:
                self._current.terminate()
            try:
                process = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            except OSError as exc:
                self.failures += 1
                log.error("speaker: cannot run %s: %s", argv[0], exc)
                return
            self._current = process
        # Reap on a thread so the press path never waits for the audio to finish.
        threading.Thread(
            target=self._reap, args=(process, message), name="speaker-reap", daemon=True
        ).start()

    def _reap(self, process: subprocess.Popen[bytes], message: str) -> None:
        _, stderr = process.communicate()
        if process.returncode not in (0, -15):  # -15: cut off by the next prompt (SIGTERM)
            self.failures += 1
            detail = stderr.decode(errors="replace").strip()[-300:]
            log.error(
                "speaker: %r exited with %s while playing %s: %s",
                self.command,
                process.returncode,
                message,
                detail or "no output",
            )
