"""Settings from environment variables (HELPPOINT_*) or a TOML file, with safe defaults."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helppoint.domain.sla import DEFAULT_TARGETS_SETTING

if TYPE_CHECKING:
    from helppoint.domain.triage_patterns import ChatterRule


class ConfigError(ValueError):
    """A setting has a value helppoint cannot use."""


def default_data_dir() -> Path:
    """Where the embedded database lives unless told otherwise."""
    return Path(os.environ.get("HELPPOINT_DATA_DIR", "helppoint-data"))


@dataclass(frozen=True)
class Settings:
    """Everything an operator of helppoint can configure."""

    database_url: str = field(
        default_factory=lambda: f"sqlite:///{default_data_dir() / 'helppoint.sqlite'}"
    )
    host: str = "127.0.0.1"
    port: int = 8800
    #: Seconds within which a repeat press of a unit joins its open incident.
    join_window: int = 300
    #: How long a console login lasts without signing in again (seconds).
    session_lifetime: int = 12 * 3600
    #: Always set the Secure flag on cookies. Without it they get it whenever the request came
    #: in over HTTPS: directly, or through a proxy in `forwarded_allow_ips`.
    secure_cookies: bool = False
    #: Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (client address,
    #: HTTPS), comma-separated addresses or networks (10.0.0.0/24); "*" = any; "" = none.
    forwarded_allow_ips: str = "127.0.0.1,::1"
    #: A console session ends after this many seconds without a request or an open console
    #: feed (docs/security.md).
    session_idle_timeout: int = 3600
    #: Strict-Transport-Security max-age sent on HTTPS responses (seconds); 0 = never.
    hsts_seconds: int = 31536000
    #: Failed sign-ins for one username within `login_failure_window` before it is locked.
    login_max_failures: int = 5
    #: Failed sign-ins from one client address within the window before it is blocked.
    login_address_max_failures: int = 20
    #: The window failures are counted in, and how long a lock lasts (seconds).
    login_failure_window: int = 900
    login_lockout_seconds: int = 900
    #: Heartbeat period told to units that have none configured (seconds).
    heartbeat_period: int = 30
    #: Minutes a recording's playback link (issued by Play, docs/calls.md) stays valid (1-60).
    playback_link_minutes: int = 10
    #: Largest HTTP request body accepted (bytes), counted while it arrives; uploads (prompt
    #: audio, stills, plan files) have their own larger limits (docs/security.md).
    max_body_bytes: int = 256 * 1024
    #: Largest device-link frame accepted (bytes).
    max_frame_bytes: int = 64 * 1024
    #: Seconds a unit has to send its hello after connecting.
    hello_timeout: float = 10.0
    #: A serving process freezes its long-lived objects out of the garbage collector's way
    #: each time this many more unit links have come (helppoint/gcpauses.py LinkFreezer);
    #: 0: never.
    gc_freeze_links: int = 1000
    #: Seconds a console or police feed may be quiet before the server sends a keepalive; the
    #: page counts its link as lost after three missed ones (web/feeds.py).
    feed_keepalive: float = 15.0
    #: Tile URL template for the maps (console, police view, routes, public map): an internet
    #: tile server. Units, alarms and routes are drawn even when tiles cannot be fetched.
    map_tiles_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    #: A raster tile archive (PMTiles or MBTiles) of the scheme's area, served by this server:
    #: set, the maps take their tiles from it and from no other host (map_tiles_url unused).
    map_tiles_file: str = ""
    map_attribution: str = "© OpenStreetMap contributors"
    #: The public address of this server, for QR codes and short URLs on printed signs
    #: (e.g. https://help.example.org); empty: the address the request came in on.
    public_url: str = ""
    #: Guard rails on places (docs/first-day.md): the scheme's area as "south,west,north,east"
    #: (empty: no area), and how far (km) a new unit or route point may be from the nearest
    #: other unit before it must be confirmed.
    scheme_area: str = ""
    place_max_km: float = 25.0
    log_level: str = "info"
    #: SMTP server for email notifications (docs/notifications.md).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_sender: str = "helppoint@localhost"
    smtp_starttls: bool = False
    smtp_username: str = ""
    #: Set through HELPPOINT_SMTP_PASSWORD, never in a file in the repository.
    smtp_password: str = ""
    #: The `sender` of CAP alerts: this control room's identifier.
    cap_sender: str = "helppoint@localhost"
    #: Seconds a worker holds a notification it is delivering before another may retry it.
    outbox_lease: int = 60
    #: An alarm not acknowledged within this many seconds alerts the supervisor.
    sla_ack_seconds: int = 30
    #: The scheme's answer-time targets, SECONDS:PERCENT shortest first (domain/sla.py): the
    #: share of alarms an operator must accept within each time. Labelled as the scheme's.
    sla_targets: str = DEFAULT_TARGETS_SETTING
    #: Fewer alarms than this (overall, an operator's, a shift's) are shown on the SLA
    #: dashboard with their count but not judged against the targets: too small a sample.
    sla_min_alarms: int = 10
    #: Alarms waiting at once from which the control room counts as "in flood" (load metrics).
    sla_flood_waiting: int = 5
    #: Local start times of the shifts the SLA dashboard groups by, and their time zone.
    sla_shift_starts: str = "07:00,19:00"
    sla_timezone: str = "Europe/London"
    #: Longest pause between supervision sweeps (seconds); a silent unit is reported at its
    #: deadline, a recovered one within this.
    supervision_interval: float = 1.0
    #: Run the supervision worker in this process (off for a process that must not report
    #: units down, e.g. a console test that records events with past times).
    supervision: bool = True
    #: Scheduled self-tests (docs/supervision.md): the default time of day ("HH:MM" in
    #: `self_test_timezone`) for units whose zone or unit has no schedule of its own; ""
    #: schedules none by default.
    self_test_at: str = "03:00"
    self_test_timezone: str = "Europe/London"
    #: Longest pause between looks for due self-tests (seconds).
    self_test_interval: float = 30.0
    #: Run the self-test worker in this process.
    self_tests: bool = True
    #: SIA DC-09 receiver port (TCP and UDP); 0 leaves the receiver off.
    sia_port: int = 0
    #: Address the DC-09 receiver listens on ("" = the same as `host`).
    sia_host: str = ""
    #: Also listen on UDP.
    sia_udp: bool = True
    #: Malformed or refused DC-09 messages (bad frames, unknown accounts, wrong keys …) a second
    #: one address may send before they go unanswered; valid messages of known accounts are
    #: never limited (many panels share one NAT address).
    sia_rate: float = 50.0
    #: Where events from units and DC-09 panels are committed: "process" (a writer process
    #: beside each server process, on another core) or "thread" (in the server process). An
    #: in-memory SQLite database always uses "thread".
    ingest_writer: str = "process"
    #: On PostgreSQL, how many writer processes beside each server process, each unit's
    #: events always by the same one (gateway/sharded_writer.py): one writer waits while its
    #: database server process works, two overlap. SQLite has one write lock: always one.
    ingest_writers: int = 2

    #: Calls (docs/calls.md). Where call recordings are kept ("" = recordings/ beside the
    #: embedded database, under HELPPOINT_DATA_DIR).
    recordings_dir: str = ""
    #: Days a call recording is kept before the retention sweep deletes it (unless on hold).
    recording_retention_days: int = 31
    #: Record calls (evidence). Off only for a test bench.
    call_recording: bool = True
    #: ICE servers for calls on real networks, comma-separated, e.g.
    #: "stun:stun.example.org:3478,turn:turn.example.org:3478"; empty: host candidates only
    #: (enough on one machine or one LAN).
    ice_servers: str = ""
    #: Credentials for the turn: URLs above (set the password through the environment).
    turn_username: str = ""
    turn_password: str = ""
    #: Seconds a unit has to answer a call offer.
    call_answer_timeout: float = 10.0
    #: Press-time audio (docs/triage.md): listen to a unit's microphone as it is pressed and
    #: judge whether a voice is heard; for how long (seconds), and at most how many units at
    #: once per server process (alarms beyond that get no judgement).
    press_listen: bool = True
    press_listen_seconds: float = 20.0
    press_listen_max: int = 32
    #: A unit with at least this many alarms in a local day is on that day's list of
    #: hyperactive units (docs/triage.md).
    hyperactive_alarms: int = 5
    #: A unit is chattering when it has at least chatter_alarms alarms within chatter_minutes
    #: and no voice was heard at any of them: its open alarms are marked and grouped
    #: (docs/triage.md). The scheme's own thresholds.
    chatter_alarms: int = 3
    chatter_minutes: int = 30

    #: SIP help points (docs/sip.md). The port the SIP server (Kamailio) takes devices'
    #: REGISTER and INVITE on, UDP and TCP; 0 leaves SIP off.
    sip_port: int = 0
    #: Address the SIP server listens on ("" = the same as `host`).
    sip_host: str = ""
    #: Digest realm of the SIP accounts (changing it invalidates every SIP password).
    sip_realm: str = "helppoint"
    #: Seconds between keepalives (SIP OPTIONS) to each registered device: a SIP unit's
    #: heartbeat period.
    sip_keepalive: int = 30
    #: This machine's address for calls' media (rtpengine); "" = the address that routes to
    #: the devices' side, found at start.
    sip_media_address: str = ""
    #: UDP ports for calls' media, "MIN-MAX".
    sip_rtp_ports: str = "30000-39999"
    #: SIP requests one address may send in 2 s before it is blocked for a while (a flood).
    sip_rate: int = 40
    #: Seconds a SIP help point's call may ring unanswered before the SIP server gives up on it
    #: (the press is an incident all the same). Kamailio's own default, 120 s, would hang up
    #: on a caller still waiting in a storm.
    sip_ring_seconds: int = 600
    #: Real-time (round-robin) scheduling priority of the media relay's threads, 1-99; 0 =
    #: ordinary scheduling. On a busy machine an ordinary relay answers late (calls declined,
    #: ICE consent lost, audio gaps). Needs root or CAP_SYS_NICE; without it the relay logs
    #: "Operation not permitted" and runs as usual (docs/sip.md).
    sip_media_priority: int = 10
    #: The SIP server and the media relay.
    sip_kamailio: str = "/usr/sbin/kamailio"
    sip_rtpengine: str = "/usr/bin/rtpengine"
    #: Cameras of the CCTV estate (docs/cameras.md). The key that seals camera passwords in
    #: the database (base64 of 32 random bytes; set it through HELPPOINT_CREDENTIALS_KEY, the
    #: same on every server process); "" = a key file made beside the embedded database.
    credentials_key: str = ""
    #: Seconds of video before a press kept in each clip: the server keeps an RTSP session to
    #: every linked camera open and holds this much of its stream in memory. 0 = no standing
    #: sessions and no pre-roll (a clip then starts when the camera answers).
    camera_preroll_seconds: int = 10
    #: Seconds a clip goes on after the last press of its incident.
    camera_clip_seconds: int = 60
    #: Record a clip from each linked camera on an activation (evidence). Off only for a bench.
    camera_clips: bool = True
    #: Seconds a camera has to answer (RTSP or ONVIF) before it is reported unreachable.
    camera_timeout: float = 5.0

    #: Operations (docs/deployment.md). The bearer token a Prometheus server sends to read
    #: /metrics (set it through HELPPOINT_METRICS_TOKEN); "" = /metrics is off.
    metrics_token: str = ""
    #: Server log lines: "text", or "json" (one JSON object per line, with the unit and
    #: incident ids a line is about).
    log_format: str = "text"

    #: The public side (docs/public-pages.md, docs/i18n.md). Languages the public pages, signs
    #: and leaflets are offered in (comma-separated codes of shipped catalogues), and the one
    #: used when neither the switch nor the browser names one of them.
    public_languages: str = "en,pl,ro"
    public_default_language: str = "en"
    #: "How safe do you feel here?" on every unit's page (docs/survey.md), and its limits:
    #: answers one client address, and one unit, may give or receive in a clock hour (counted
    #: in the database for every server process together).
    survey: bool = True
    survey_per_address: int = 20
    survey_per_unit: int = 300
    #: Open data (docs/open-data.md): publish the aggregated files at /open-data (off: 404),
    #: under this licence (its name and address), naming this publisher (e.g. the council),
    #: for this many complete months; survey figures resting on fewer answers are left out.
    open_data_public: bool = False
    open_data_licence: str = "Open Government Licence v3.0"
    open_data_licence_url: str = (
        "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
    )
    open_data_publisher: str = ""
    open_data_months: int = 24
    open_data_min_answers: int = 5

    def _check_public(self) -> None:
        from helppoint.i18n import parse_languages

        if self.survey_per_address < 1 or self.survey_per_unit < 1:
            raise ConfigError("survey_per_address and survey_per_unit must be at least 1")
        if not 1 <= self.open_data_months <= 120:
            raise ConfigError("open_data_months must be 1-120")
        if self.open_data_min_answers < 1:
            raise ConfigError("open_data_min_answers must be at least 1")
        try:
            langs = parse_languages(self.public_languages)
        except ValueError as exc:
            raise ConfigError(f"public_languages: {exc}") from None
        if self.public_default_language not in langs:
            raise ConfigError(
                f"public_default_language {self.public_default_language!r} is not one of "
                f"public_languages ({', '.join(langs)})"
            )

    @classmethod
    def load(cls, path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
        """Defaults, overridden by the TOML file (if any), overridden by HELPPOINT_* variables."""
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        config_path = path or (Path(env["HELPPOINT_CONFIG"]) if "HELPPOINT_CONFIG" in env else None)
        if config_path is not None:
            try:
                with config_path.open("rb") as handle:
                    values.update(tomllib.load(handle))
            except FileNotFoundError as exc:
                raise ConfigError(f"config file {config_path} does not exist") from exc
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"config file {config_path} is not valid TOML: {exc}") from exc
        for f in fields(cls):
            key = f"HELPPOINT_{f.name.upper()}"
            if key in env:
                values[f.name] = env[key]
        return cls().with_values(values)

    def with_values(self, values: dict[str, Any]) -> Settings:
        """A copy with the given settings, converted to the right types and checked."""
        known = {f.name: f for f in fields(self)}
        converted: dict[str, Any] = {}
        for name, raw in values.items():
            if name not in known:
                raise ConfigError(f"unknown setting {name!r}; known: {', '.join(sorted(known))}")
            default = getattr(self, name)
            converted[name] = _convert(name, raw, type(default))
        settings = replace(self, **converted)
        settings.check()
        return settings

    @property
    def chatter_rule(self) -> ChatterRule:
        """When a unit is chattering, from chatter_alarms and chatter_minutes."""
        from helppoint.domain.triage_patterns import ChatterRule

        return ChatterRule(self.chatter_alarms, timedelta(minutes=self.chatter_minutes))

    def check(self) -> None:
        """Reject values that would make the server misbehave."""
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"port must be 1-65535, not {self.port}")
        if self.join_window < 0:
            raise ConfigError("join_window must not be negative")
        if self.session_lifetime < 60:
            raise ConfigError("session_lifetime must be at least 60 seconds")
        if self.session_idle_timeout < 60:
            raise ConfigError("session_idle_timeout must be at least 60 seconds")
        if self.hsts_seconds < 0:
            raise ConfigError("hsts_seconds must not be negative")
        self._check_public()
        if self.login_max_failures < 1 or self.login_address_max_failures < 1:
            raise ConfigError("login_max_failures and login_address_max_failures must be ≥ 1")
        if self.login_failure_window < 1 or self.login_lockout_seconds < 1:
            raise ConfigError("login_failure_window and login_lockout_seconds must be ≥ 1")
        if not 1 <= self.feed_keepalive <= 60:
            raise ConfigError("feed_keepalive must be 1-60 seconds")
        if self.heartbeat_period < 1:
            raise ConfigError("heartbeat_period must be at least 1 second")
        if not 0 <= self.sia_port <= 65535:
            raise ConfigError(f"sia_port must be 0 (off) or 1-65535, not {self.sia_port}")
        if self.sia_rate <= 0:
            raise ConfigError("sia_rate must be positive")
        if self.ingest_writer not in ("process", "thread"):
            raise ConfigError(
                f"ingest_writer must be 'process' or 'thread', not {self.ingest_writer!r}"
            )
        if not 1 <= self.ingest_writers <= 16:
            raise ConfigError(f"ingest_writers must be 1-16, not {self.ingest_writers}")
        if not 0.05 <= self.supervision_interval <= 60:
            raise ConfigError("supervision_interval must be 0.05-60 seconds")
        if not 0.05 <= self.self_test_interval <= 3600:
            raise ConfigError("self_test_interval must be 0.05-3600 seconds")
        if self.self_test_at:
            from helppoint.domain.errors import InvalidInput
            from helppoint.domain.selftest import parse_schedule

            try:
                parse_schedule(self.self_test_at, self.self_test_timezone)
            except InvalidInput as exc:
                raise ConfigError(f"self_test_at / self_test_timezone: {exc}") from None
        if not 1 <= self.sla_ack_seconds <= 3600:
            raise ConfigError("sla_ack_seconds must be 1-3600 seconds")
        from helppoint.domain.errors import InvalidInput
        from helppoint.domain.sla import parse_targets

        try:
            parse_targets(self.sla_targets)
        except InvalidInput as exc:
            raise ConfigError(f"sla_targets: {exc}") from None
        if not 1 <= self.sla_min_alarms <= 10_000:
            raise ConfigError("sla_min_alarms must be 1-10000")
        if not 1 <= self.sla_flood_waiting <= 10_000:
            raise ConfigError("sla_flood_waiting must be 1-10000")
        if not 5 <= self.outbox_lease <= 3600:
            raise ConfigError("outbox_lease must be 5-3600 seconds")
        if not 1 <= self.smtp_port <= 65535:
            raise ConfigError(f"smtp_port must be 1-65535, not {self.smtp_port}")
        if not 1 <= self.recording_retention_days <= 3650:
            raise ConfigError("recording_retention_days must be 1-3650")
        if not 1 <= self.call_answer_timeout <= 120:
            raise ConfigError("call_answer_timeout must be 1-120 seconds")
        if not 2 <= self.press_listen_seconds <= 300:
            raise ConfigError("press_listen_seconds must be 2-300 seconds")
        if not 1 <= self.press_listen_max <= 1000:
            raise ConfigError("press_listen_max must be 1-1000")
        if not 1 <= self.hyperactive_alarms <= 10_000:
            raise ConfigError("hyperactive_alarms must be 1-10000")
        if not 2 <= self.chatter_alarms <= 1000:
            raise ConfigError("chatter_alarms must be 2-1000")
        if not 1 <= self.chatter_minutes <= 24 * 60:
            raise ConfigError("chatter_minutes must be 1-1440 (24 hours)")
        for url in filter(None, (u.strip() for u in self.ice_servers.split(","))):
            if not url.startswith(("stun:", "stuns:", "turn:", "turns:")):
                raise ConfigError(
                    f"ice_servers: {url!r} must start with stun:, stuns:, turn: or turns:"
                )
        self._check_sip()
        if not 0 <= self.camera_preroll_seconds <= 60:
            raise ConfigError("camera_preroll_seconds must be 0-60")
        if not 5 <= self.camera_clip_seconds <= 3600:
            raise ConfigError("camera_clip_seconds must be 5-3600")
        if not 1 <= self.camera_timeout <= 60:
            raise ConfigError("camera_timeout must be 1-60 seconds")
        if self.max_frame_bytes < 1024:
            raise ConfigError("max_frame_bytes must be at least 1024")
        for proxy in filter(None, (p.strip() for p in self.forwarded_allow_ips.split(","))):
            if proxy == "*":
                continue
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ConfigError(
                    f"forwarded_allow_ips: {proxy!r} is not an address or network (or *)"
                ) from None
        if not 1 <= self.playback_link_minutes <= 60:
            raise ConfigError("playback_link_minutes must be 1-60")
        if self.max_body_bytes < 16 * 1024:
            raise ConfigError("max_body_bytes must be at least 16384")
        self._check_places()
        self._check_operations()

    def _check_places(self) -> None:
        from helppoint.domain.errors import InvalidInput
        from helppoint.domain.places import parse_area

        try:
            parse_area(self.scheme_area)
        except InvalidInput as exc:
            raise ConfigError(f"scheme_area: {exc}") from None
        if not 0.1 <= self.place_max_km <= 20_000:
            raise ConfigError("place_max_km must be 0.1-20000")

    def _check_operations(self) -> None:
        if self.metrics_token and (
            len(self.metrics_token) < 16
            or not self.metrics_token.isascii()
            or not self.metrics_token.isprintable()
            or " " in self.metrics_token
        ):
            raise ConfigError(
                "metrics_token must be at least 16 printable ASCII characters without spaces"
            )
        if self.log_format not in ("text", "json"):
            raise ConfigError(f"log_format must be 'text' or 'json', not {self.log_format!r}")

    def _check_sip(self) -> None:
        if not 0 <= self.sip_port <= 65535:
            raise ConfigError(f"sip_port must be 0 (off) or 1-65535, not {self.sip_port}")
        from helppoint.domain.errors import InvalidInput
        from helppoint.domain.sip import check_token

        try:
            check_token(self.sip_realm, "sip_realm")
        except InvalidInput as exc:
            raise ConfigError(str(exc)) from None
        if not 5 <= self.sip_keepalive <= 3600:
            raise ConfigError("sip_keepalive must be 5-3600 seconds")
        low, _, high = self.sip_rtp_ports.partition("-")
        if not (low.isdigit() and high.isdigit() and 1024 <= int(low) < int(high) <= 65535):
            raise ConfigError(
                f"sip_rtp_ports must be MIN-MAX in 1024-65535, not {self.sip_rtp_ports!r}"
            )
        if not 1 <= self.sip_rate <= 10_000:
            raise ConfigError("sip_rate must be 1-10000 requests")
        if not 30 <= self.sip_ring_seconds <= 3600:
            raise ConfigError("sip_ring_seconds must be 30-3600 seconds")
        if not 0 <= self.sip_media_priority <= 99:
            raise ConfigError("sip_media_priority must be 0 (ordinary scheduling) or 1-99")


def _convert(name: str, raw: Any, kind: type) -> Any:
    if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
        return raw
    text = str(raw).strip()
    try:
        if kind is bool:
            if text.lower() in {"1", "true", "yes", "on"}:
                return True
            if text.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(text)
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
    except ValueError as exc:
        raise ConfigError(f"setting {name!r} must be a {kind.__name__}, not {raw!r}") from exc
    return text
