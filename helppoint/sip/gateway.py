"""The SIP gateway: SIP help points' accounts, registrations and keepalives in helppoint.

It runs the SIP server and media relay (sip/servers.py), keeps the SIP server's accounts in
step with the database, and feeds every keepalive a registered device answers into the same
supervision as our own units' heartbeats (the ingest queue's `touch`): a device that stops
answering, or whose registration lapses, is reported down after its period and grace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from helppoint.calls.hub import CallHub
from helppoint.config import Settings
from helppoint.domain.sip import parse_light_action
from helppoint.gateway.broker import Broker
from helppoint.gateway.device_link import DeviceLinkHub, UnitNotConnected
from helppoint.gateway.frames import CommandResult
from helppoint.gateway.ingest_queue import IngestQueue
from helppoint.services.sip_units import (
    open_http_account,
    record_sip_refusal,
    sip_accounts_of,
)
from helppoint.sip.agent import SipAgent, SipCall
from helppoint.sip.calls import SipCallLegs
from helppoint.sip.http_action import HttpActionFailed, send_http_action
from helppoint.sip.servers import (
    RtpengineControl,
    SipServerConfig,
    SipServerError,
    SipServers,
    media_address,
)
from helppoint.store.sealed import Sealer, SealError, sealer_for
from helppoint.store.uow import UnitOfWork
from helppoint.tasks import cancel_and_wait
from helppoint.topics import Topic

log = logging.getLogger(__name__)

#: Seconds between looks at the SIP server's registrations (keepalive answers).
POLL_INTERVAL = 1.0
#: Seconds between looks for SIP accounts added or changed in the database.
ACCOUNTS_INTERVAL = 5.0
#: Tries (0.2 s apart) to put a DTMF digit into a call whose media has not started yet.
DTMF_ATTEMPTS = 25


@dataclass(frozen=True)
class LoadedAccount:
    """An account as the SIP server has it."""

    unit_id: str
    ha1: str
    #: The light actions ("dtmf:*1", "info:5", "http:URL", "none": domain/sip.py).
    light_on: str = "none"
    light_off: str = "none"
    #: The device's HTTP API account for http: actions, sealed.
    http_account: str | None = None
    #: Called back with SRTP offered.
    srtp: bool = False


class SipGateway:
    """SIP help points' side of helppoint (one per cluster, like the DC-09 receiver)."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        ingest: IngestQueue,
        settings: Settings,
        calls: CallHub | None = None,
        device_link: DeviceLinkHub | None = None,
        broker: Broker | None = None,
    ) -> None:
        self._calls = calls
        self._device_link = device_link
        self._broker = broker
        #: SIP units with a registration now (the console shows them as linked).
        self.registered: set[str] = set()
        self._uow_factory = uow_factory
        self._ingest = ingest
        self.settings = settings
        host = settings.sip_host or settings.host
        low, _, high = settings.sip_rtp_ports.partition("-")
        self.config = SipServerConfig(
            kamailio=settings.sip_kamailio,
            rtpengine=settings.sip_rtpengine,
            host=host,
            port=settings.sip_port,
            realm=settings.sip_realm,
            keepalive=settings.sip_keepalive,
            rate=settings.sip_rate,
            media_address=settings.sip_media_address or media_address(host),
            rtp_ports=(int(low), int(high)),
            agent_port=0,  # the agent's, once it listens
            ring_seconds=settings.sip_ring_seconds,
            media_priority=settings.sip_media_priority,
        )
        self.agent = SipAgent(
            uow_factory, ingest, self.unit_of, settings.sip_realm, relay=self._media_relay
        )
        self.servers: SipServers | None = None
        #: username -> account, as loaded into the SIP server.
        self.accounts: dict[str, LoadedAccount] = {}
        #: username -> the latest keepalive answer (or registration) seen, POSIX seconds.
        self._heard: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self.events: list[dict[str, Any]] = []
        self._auditing: set[asyncio.Task[None]] = set()
        #: HTTP light actions under way.
        self._actions: set[asyncio.Task[None]] = set()
        self._sealer_made: Sealer | None = None

    async def start(self) -> None:
        """Start helppoint's user agent, the SIP server and media relay; load the accounts."""
        await self.agent.start()
        try:
            self.config.agent_port = self.agent.port
            await self._start_servers()
        except BaseException:
            if self.servers is not None:
                await self.servers.stop()
                self.servers = None
            await self.agent.stop()
            raise
        if self._calls is not None:
            self._calls.external = SipCallLegs(self)
            self.agent.on_hung_up = self._calls.unit_ended
        if self._device_link is not None:
            self._device_link.link_other_units(self)
        log.info(
            "SIP help points: SIP server on %s:%d (UDP and TCP), realm %s, media on %s",
            self.config.host,
            self.config.port,
            self.config.realm,
            self.config.media_address,
        )
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sip-gateway")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        if self._calls is not None:
            self._calls.external = None
        if self._device_link is not None:
            self._device_link.link_other_units(None)
        await self.agent.stop()
        if self.servers is not None:
            await self.servers.stop()
            self.servers = None

    async def _start_servers(self) -> None:
        self.servers = SipServers(self.config, self._on_event)
        await self.servers.start()
        self.agent.server_address = ("127.0.0.1", self.servers.ports.internal_port)
        await self._sync_accounts()

    # ---------- commands: the light ----------

    async def command(
        self, unit_id: str, command: str, args: dict[str, Any], command_id: str
    ) -> bool:
        """Carry out a console command for a SIP unit (False: not a SIP unit).

        A SIP intercom's relay (the light) is driven within its call: DTMF (RFC 4733, put into
        the call's audio by the media relay) or SIP INFO, as its account says; or through the
        device's HTTP API, in a call or not.
        """
        account = next((a for a in self.accounts.values() if a.unit_id == unit_id), None)
        if account is None:
            return False
        if command != "flash_light":
            raise UnitNotConnected(
                f"{unit_id} is a SIP help point: of the unit commands it takes only the light"
            )
        on = bool(args.get("on", True))
        action = account.light_on if on else account.light_off
        kind, digits = parse_light_action(action)
        if kind == "none":
            raise UnitNotConnected(
                f"{unit_id}'s light cannot be switched from here (its light action is none; "
                "set one with helppoint unit add --kind sip --light-on/--light-off)"
            )
        if kind == "http":
            # Needs no call: the request goes to the device's own HTTP API, in the background
            # (the result reaches the console like a native unit's confirmation).
            task = asyncio.get_running_loop().create_task(
                self._http_action(unit_id, on, digits, account.http_account, command_id)
            )
            self._actions.add(task)
            task.add_done_callback(self._actions.discard)
            return True
        answered = self.agent.answered_call_of(unit_id)
        if answered is None:
            raise UnitNotConnected(
                f"{unit_id} is a SIP help point: its light is switched within its call. Answer "
                "the call first."
            )
        servers = self.servers
        assert servers is not None
        try:
            if kind == "dtmf":
                for digit in digits:
                    await self._play_dtmf(servers, answered, digit)
                    await asyncio.sleep(0.3)
                detail = f"sent as DTMF {digits} (RFC 4733) in the call"
            else:
                await self.agent.send_info_digits(answered, digits)
                detail = f"sent as SIP INFO {digits} in the call"
            ok = True
        except SipServerError as exc:
            ok, detail = False, f"not sent: {exc}"
        log.info("SIP unit %s: light %s %s", unit_id, "on" if on else "off", detail)
        if self._device_link is not None:
            await self._device_link.command_result(unit_id, CommandResult(command_id, ok, detail))
        return True

    async def _http_action(
        self, unit_id: str, on: bool, url: str, sealed: str | None, command_id: str
    ) -> None:
        try:
            account = open_http_account(sealed, unit_id, self._sealer())
            detail, ok = await send_http_action(url, account), True
        except (HttpActionFailed, SealError) as exc:
            detail, ok = f"not done: {exc}", False
        log.info("SIP unit %s: light %s %s", unit_id, "on" if on else "off", detail)
        if self._device_link is not None:
            await self._device_link.command_result(unit_id, CommandResult(command_id, ok, detail))

    def _sealer(self) -> Sealer:
        if self._sealer_made is None:
            self._sealer_made = sealer_for(self.settings)
        return self._sealer_made

    async def _play_dtmf(self, servers: SipServers, answered: SipCall, digit: str) -> None:
        # Just after the answer our side may not have sent media through the relay yet, and
        # it can put a digit only into a stream it has seen: wait for it, a few seconds at most.
        for attempt in range(DTMF_ATTEMPTS):
            try:
                await servers.rtpengine_control.command(
                    "play DTMF",
                    call_id=answered.call_id,
                    # Named as sent by our side: rtpengine puts the digit into what goes
                    # from it to the device (as telephone-event, accepted on the device's
                    # side whatever the hub's side offers).
                    from_tag=answered.dialog.local_tag,
                    code=digit,
                    duration=250,
                )
                return
            except SipServerError as exc:
                if "SSRC" not in str(exc) or attempt == DTMF_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.2)

    def _media_relay(self) -> RtpengineControl | None:
        """The media relay's control channel, while it runs."""
        try:
            return self.servers.rtpengine_control if self.servers is not None else None
        except SipServerError:
            return None

    def is_sip_unit(self, unit_id: str) -> bool:
        """Whether the unit is a SIP help point in service."""
        return any(account.unit_id == unit_id for account in self.accounts.values())

    def calls_back_with_srtp(self, unit_id: str) -> bool:
        """Whether the unit is called back with SRTP offered (its account says so)."""
        return any(a.srtp for a in self.accounts.values() if a.unit_id == unit_id)

    def username_of(self, unit_id: str) -> str | None:
        """The SIP username of a unit in service."""
        return next((name for name, a in self.accounts.items() if a.unit_id == unit_id), None)

    def unit_of(self, username: str) -> str | None:
        """The unit of a SIP account in service (usernames compare without regard to case)."""
        account = self.accounts.get(username)
        if account is None:
            lowered = username.lower()
            account = next(
                (a for name, a in self.accounts.items() if name.lower() == lowered), None
            )
        return account.unit_id if account is not None else None

    async def _run(self) -> None:
        next_sync = time.monotonic() + ACCOUNTS_INTERVAL
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            try:
                await self._keep_running()
                await self.poll_registrations()
                if time.monotonic() >= next_sync:
                    next_sync = time.monotonic() + ACCOUNTS_INTERVAL
                    await self._sync_accounts()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("SIP gateway: a round failed; trying again")

    async def _keep_running(self) -> None:
        servers = self.servers
        assert servers is not None
        dead = [p.name for p in (servers.kamailio, servers.rtpengine) if p and not p.running]
        if not dead:
            return
        log.error("SIP gateway: %s stopped; starting the SIP server again", ", ".join(dead))
        await servers.stop()
        self.accounts.clear()
        await self._start_servers()

    # ---------- accounts ----------

    async def _sync_accounts(self) -> None:
        """Load new and changed accounts into the SIP server; drop removed ones."""
        wanted = await run_in_threadpool(self._read_accounts)
        servers = self.servers
        assert servers is not None
        for username, account in wanted.items():
            if self.accounts.get(username) != account:
                await servers.rpc("htable.sets", "cred", username, account.ha1)
                self.accounts[username] = account
        for username in set(self.accounts) - set(wanted):
            await servers.rpc("htable.delete", "cred", username)
            with contextlib.suppress(SipServerError):  # (not registered: nothing to drop)
                await servers.rpc("ul.rm", "location", username)
            del self.accounts[username]
            self._heard.pop(username, None)

    def _read_accounts(self) -> dict[str, LoadedAccount]:
        realm, keepalive = self.settings.sip_realm, self.settings.sip_keepalive
        wanted: dict[str, LoadedAccount] = {}
        with self._uow_factory() as uow:
            for account in sip_accounts_of(uow):
                if account.realm != realm:
                    log.warning(
                        "SIP unit %s: its password was set for realm %r, not %r: give it a "
                        "new one (helppoint unit add --kind sip)",
                        account.unit_id,
                        account.realm,
                        realm,
                    )
                    continue
                wanted[account.username] = LoadedAccount(
                    account.unit_id,
                    account.ha1,
                    account.light_on,
                    account.light_off,
                    account.http_account,
                    account.srtp,
                )
                unit = uow.units.get(account.unit_id)
                if unit is not None and unit.heartbeat_period != keepalive:
                    # Supervised by the keepalives: its period is theirs.
                    unit.heartbeat_period = keepalive
            uow.commit()
        return wanted

    # ---------- supervision ----------

    async def poll_registrations(self) -> None:
        """Touch every unit whose device answered a keepalive (or registered) since the last
        look: the same sign of life as a heartbeat."""
        servers = self.servers
        assert servers is not None
        dump = await servers.rpc("ul.dump")
        now = time.time()
        oldest = now - 2 * self.settings.sip_keepalive
        # (the SIP server keeps addresses of record in lower case)
        by_aor = {username.lower(): username for username in self.accounts}
        latest = _latest_keepalives(dump)
        registered = {
            self.accounts[by_aor[aor.lower()]].unit_id for aor in latest if aor.lower() in by_aor
        }
        self._set_registered(registered)
        for aor, heard in latest.items():
            username = by_aor.get(aor.lower(), "")
            account = self.accounts.get(username)
            if account is None or heard <= self._heard.get(username, 0) or heard < oldest:
                continue
            self._heard[username] = heard
            self._ingest.touch(account.unit_id)

    def _set_registered(self, registered: set[str]) -> None:
        changed = registered ^ self.registered
        self.registered = registered
        if self._broker is not None:
            for unit_id in sorted(changed):
                # As a unit's device link coming and going: consoles enable calls by it.
                self._broker.publish(
                    Topic.UNITS, {"id": unit_id, "connected": unit_id in registered}
                )

    # ---------- what the SIP server tells ----------

    def _on_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        del self.events[:-100]
        log.warning("SIP server: %s", event)
        task = asyncio.get_running_loop().create_task(self._audit(event))
        self._auditing.add(task)
        task.add_done_callback(self._auditing.discard)

    async def _audit(self, event: dict[str, Any]) -> None:
        try:
            await run_in_threadpool(record_sip_refusal, self._uow_factory(), event)
        except Exception:
            log.exception("SIP gateway: could not put %s on the audit trail", event)


def _latest_keepalives(dump: Any) -> dict[str, int]:
    """username -> the latest keepalive (or registration) of any of its contacts."""
    latest: dict[str, int] = {}
    domains = dump.get("Domains", []) if isinstance(dump, dict) else []
    for domain in domains:
        for aor in domain.get("Domain", {}).get("AoRs", []) or []:
            info = aor.get("Info", {})
            username = str(info.get("AoR", ""))
            for contact in info.get("Contacts", []) or []:
                heard = contact.get("Contact", {}).get("Last-Keepalive")
                if isinstance(heard, int):
                    latest[username] = max(latest.get(username, 0), heard)
    return latest
