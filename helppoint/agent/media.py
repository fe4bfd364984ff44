"""Camera presets and spoken prompts.

:class:`LoggingCamera` only logs the preset asked for and :class:`SimulatedCamera` remembers
it; an external PTZ camera is driven over ONVIF by :mod:`helppoint.agent.camera_onvif`.
Prompts are spoken by :class:`CommandSpeaker`, which runs a configured program
(``espeak-ng {text}``, ``aplay {file}``); its failures are logged, never raised, because a
broken speaker must not stop a press from reaching the control room. Custom prompts (audio
files an admin uploaded) are fetched by :class:`PromptCache` and kept by checksum.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shlex
import string
import subprocess
import threading
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import httpx

from helppoint.protocol.device_link import PROMPTS

log = logging.getLogger(__name__)

DEFAULT_PROMPT_DIR = "/usr/share/helppoint/prompts"
#: Plays an audio file of any common format on the default ALSA/PulseAudio output.
DEFAULT_FILE_COMMAND = "ffplay -nodisp -autoexit -loglevel error {file}"


def _command_argv(command: str, placeholders: frozenset[str]) -> list[str]:
    """A command line split like a shell's, its placeholders checked; ValueError if bad."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ValueError(f"speaker command {command!r} cannot be parsed: {exc}") from exc
    if not argv:
        raise ValueError("speaker command is empty")
    for arg in argv:
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(arg) if name}
        except ValueError as exc:
            raise ValueError(f"speaker command {command!r}: {exc}") from exc
        unknown = fields - placeholders
        if unknown:
            known = ", ".join(f"{{{name}}}" for name in sorted(placeholders))
            raise ValueError(
                f"speaker command {command!r} uses unknown placeholder(s) "
                f"{', '.join(sorted(unknown))}; use {known}"
            )
    return argv


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
        self.files: list[Path] = []
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

    def play_file(self, message: str, path: Path) -> None:
        """Record a custom prompt's audio file (its name, and the file in ``files``)."""
        self.played.append(message)
        self.files.append(path)


class LoggingSpeaker:
    """For a unit with no speaker command configured: logs each prompt it would play."""

    def play(self, message: str) -> None:
        """Log the prompt."""
        log.info("speaker: %s (%s)", message, prompt_text(message))

    def play_file(self, message: str, path: Path) -> None:
        """Log the custom prompt."""
        log.info("speaker: %s (audio file %s)", message, path)


class CommandSpeaker:
    """Plays prompts by running a program, e.g. ``espeak-ng {text}`` or ``aplay {file}``.

    Placeholders: ``{text}`` (the words), ``{message}`` (the name) and ``{file}``
    (``PROMPT_DIR/NAME.wav``). The command is split like a shell line but not run by a shell,
    so the prompt text cannot inject anything. A new prompt cuts off the one still playing.
    """

    PLACEHOLDERS = frozenset({"text", "message", "file"})

    def __init__(
        self,
        command: str,
        prompt_dir: str | None = None,
        file_command: str = DEFAULT_FILE_COMMAND,
    ) -> None:
        self._argv = _command_argv(command, self.PLACEHOLDERS)
        #: Plays a custom prompt's audio file (any format: WAV, Ogg, FLAC, MP3).
        self._file_argv = _command_argv(file_command, frozenset({"file", "message"}))
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
        self._start(self.argv(message), message)

    def play_file(self, message: str, path: Path) -> None:
        """Play a custom prompt's audio file with the file command; failures are logged."""
        values = {"file": str(path), "message": message}
        self._start([arg.format(**values) for arg in self._file_argv], message)

    def _start(self, argv: list[str], message: str) -> None:
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


class PromptUnavailable(Exception):
    """A custom prompt could not be fetched (server unreachable, refused, wrong checksum)."""


class PromptCache:
    """Custom prompts (audio files uploaded by an admin), fetched from the server on first use
    and kept by checksum: ``DIR/SHA256.EXT``. A prompt replaced on the server has a new
    checksum, so the unit fetches it again; a cached file is checked before each use."""

    def __init__(
        self, base_url: str, unit_id: str, key: str, directory: str | Path, timeout: float = 30.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.unit_id = unit_id
        self._key = key
        self.directory = Path(directory)
        self.timeout = timeout
        self.downloads = 0

    def path(self, sha256: str, fmt: str) -> Path:
        """Where the prompt with this checksum is (or would be) cached."""
        if not re.fullmatch(r"[0-9a-f]{64}", sha256) or not re.fullmatch(r"[a-z0-9]{1,8}", fmt):
            raise PromptUnavailable(f"bad prompt checksum {sha256[:70]!r} or format {fmt[:20]!r}")
        return self.directory / f"{sha256}.{fmt}"

    def fetch(self, name: str, sha256: str, fmt: str) -> Path:
        """The cached audio file of prompt ``name``, downloading it if needed (blocking)."""
        path = self.path(sha256, fmt)
        if path.is_file() and _sha256(path.read_bytes()) == sha256:
            return path
        url = f"{self.base_url}/api/units/{quote(self.unit_id)}/prompts/{quote(name)}"
        try:
            response = httpx.get(
                url, headers={"Authorization": f"Bearer {self._key}"}, timeout=self.timeout
            )
        except httpx.HTTPError as exc:
            raise PromptUnavailable(f"cannot fetch prompt {name}: {exc}") from exc
        if response.status_code != 200:
            raise PromptUnavailable(
                f"server refused prompt {name}: HTTP {response.status_code} {response.text[:200]}"
            )
        if _sha256(response.content) != sha256:
            # Replaced on the server since the command was sent, or damaged: never play it.
            raise PromptUnavailable(f"prompt {name} fetched with a different checksum")
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(path.suffix + ".part")
        partial.write_bytes(response.content)
        os.replace(partial, path)
        self.downloads += 1
        return path


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
