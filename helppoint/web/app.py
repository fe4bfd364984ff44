"""The ASGI application factory."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send
from xstatic.pkg import leaflet

from helppoint import __version__
from helppoint.calls.hub import CallHub
from helppoint.cameras.activation import start_camera_job
from helppoint.cameras.viewer import camera_views
from helppoint.cluster import Cluster, Elector, Job, supports_cluster
from helppoint.config import Settings
from helppoint.domain.errors import AlreadyClaimed, InvalidInput, InvalidTransition, NotFound
from helppoint.domain.selftest import DefaultSchedule
from helppoint.gateway.batch_writer import BatchWriter
from helppoint.gateway.broker import Broker
from helppoint.gateway.device_link import DeviceLinkHub
from helppoint.gateway.ingest_queue import IngestQueue
from helppoint.gateway.link_events import LinkEvents
from helppoint.gateway.process_writer import ProcessWriter
from helppoint.gateway.sharded_writer import ShardedWriter
from helppoint.gateway.sia.receiver import SiaReceiver
from helppoint.gateway.thread_writer import ThreadWriter
from helppoint.gateway.unit_reset import UnitReset
from helppoint.gcpauses import GcPauses, LinkFreezer, tune_for_serving
from helppoint.protocol.device_link import DEVICE_PATH
from helppoint.services import unit_commands
from helppoint.services.playback_links import playback_links
from helppoint.store.database import make_engine, make_session_factory
from helppoint.store.uow import UnitOfWork
from helppoint.tasks import cancel_and_wait
from helppoint.web import account as account_pages
from helppoint.web import (
    admin,
    admin_contacts,
    admin_pages,
    admin_units,
    api,
    api_tokens,
    audit,
    console_ws,
    escalation,
    health,
    map_tiles,
    metrics,
    pages,
    public,
    triage_supervision,
    trouble,
)
from helppoint.web import calls as call_pages
from helppoint.web import cameras as camera_api
from helppoint.web import media as media_api
from helppoint.web import police as police_pages
from helppoint.web import reports as report_pages
from helppoint.web import sia as sia_api
from helppoint.web import sla as sla_pages
from helppoint.web import triage as triage_api
from helppoint.web import unit_config as unit_config_pages
from helppoint.web.api_version import unversioned, versioned_document
from helppoint.web.compress import PublicGZip
from helppoint.web.forbidden import html_errors
from helppoint.web.security import SecurityMiddleware
from helppoint.workers.outbox import OutboxService
from helppoint.workers.selftest import SelfTestWorker
from helppoint.workers.sla import SlaWorker
from helppoint.workers.supervision import SupervisionWorker
from helppoint.workers.triage import TriageWorker

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


def create_app(
    settings: Settings,
    engine: Engine | None = None,
    on_startup: Callable[[FastAPI], Any] | None = None,
) -> FastAPI:
    """Build the app: console, API, console feed and device link on one port.

    The schema must already be migrated (`helppoint migrate`, or `serve`, which migrates).
    `on_startup` runs inside the lifespan once the app is ready (the demo starts its simulated
    units there).
    """
    engine = engine or make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    broker = Broker()
    # Several processes may share a PostgreSQL database: messages then also travel between
    # them (NOTIFYed inside the transaction that caused them) and jobs are elected.
    cluster = Cluster(engine, broker) if supports_cluster(engine) else None

    def uow_factory() -> UnitOfWork:
        if cluster is not None:
            return UnitOfWork(session_factory, broker.publish_local, cluster.before_commit())
        return UnitOfWork(session_factory, broker.relay)

    # Prometheus metrics (web/metrics.py): the event writer's messages are noted on their way.
    operations = metrics.Metrics(settings.sla_ack_seconds)

    def writer_uow_factory() -> UnitOfWork:
        if cluster is not None:
            publish = operations.tap_writer(broker.publish_local)
            return UnitOfWork(session_factory, publish, cluster.before_commit())
        return UnitOfWork(session_factory, operations.tap_writer(broker.relay))

    ingest = IngestQueue(
        uow_factory,
        timedelta(seconds=settings.join_window),
        writer=_ingest_writer(settings, engine, broker, cluster, operations)
        or ThreadWriter(writer_uow_factory, timedelta(seconds=settings.join_window)),
    )
    ingest.observe_batch = operations.observe_batch
    supervision = SupervisionWorker(
        uow_factory, settings.supervision_interval, still_alive=ingest.heard_unwritten
    )
    outbox = OutboxService(settings, uow_factory, broker)
    hub = DeviceLinkHub(
        uow_factory,
        ingest,
        broker,
        heartbeat_period=settings.heartbeat_period,
        max_frame_bytes=settings.max_frame_bytes,
        hello_timeout=settings.hello_timeout,
        events=LinkEvents(
            config_applied=health.config_confirmer(uow_factory),
            command_result=lambda unit_id, result: _record_command_result(
                uow_factory, unit_id, result.id, result.ok, result.detail
            ),
            # The call hub, made below with this hub to send its frames: called once units
            # are linked, after the app is made.
            call_frame=lambda unit_id, frame: calls.on_call_frame(unit_id, frame),
            unit_gone=lambda unit_id: calls.on_unit_gone(unit_id),
        ),
    )

    unit_reset = UnitReset(uow_factory, broker, hub)

    calls = CallHub(
        uow_factory,
        hub,
        broker,
        settings,
        server_id=cluster.process_id if cluster is not None else "",
        alive=cluster.presence.alive_ids if cluster is not None else None,
    )

    cameras = camera_views(settings, uow_factory)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        broker.bind(asyncio.get_running_loop())
        await calls.start()
        if cluster is not None:
            # Told to the other processes every second: what this one has not written yet.
            cluster.presence.heard_through = ingest.heard_through
            await cluster.start()
            hub.attach_cluster(cluster)
        await unit_reset.start()
        ingest.start()
        # Before the server listens: the first alarm must not wait for the writer process.
        await ingest.ready()
        # The key that signs recordings' playback links: made on the first start, then shared.
        app.state.playback_links = await asyncio.to_thread(
            playback_links, uow_factory(), settings.playback_link_minutes
        )
        elector = _periodic_jobs(app, settings, uow_factory, ingest, outbox, cluster)
        app.state.elector = elector
        try:
            await elector.start()
        except BaseException:
            # A job that cannot start (a port in use…) stops the server: stop what is up, so
            # nothing of it (the writer process, the jobs started) outlives the failed start.
            await elector.stop()
            await ingest.stop()
            await unit_reset.stop()
            await calls.stop()
            if cluster is not None:
                await cluster.stop()
            raise
        cleanup = None
        if on_startup is not None:
            cleanup = await on_startup(app)
        gc_pauses.install()
        freezer.start()
        await operations.start(
            engine, broker, hub, ingest, sia_source=lambda: getattr(app.state, "sia", None)
        )
        try:
            yield
        finally:
            await operations.stop()
            await freezer.stop()
            if cleanup is not None:
                await cleanup()
            await calls.stop()
            await cameras.stop()
            await hub.close_all()
            await elector.stop()
            await ingest.stop()
            await unit_reset.stop()
            if cluster is not None:
                await cluster.stop()
            gc_pauses.remove()

    gc_pauses = GcPauses(observe=operations.observe_gc)
    freezer = LinkFreezer(lambda: hub.link_count, settings.gc_freeze_links)
    app = HelppointApp(
        title="helppoint",
        version=__version__,
        description="Control-room API for public SOS Help Points.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    # Opened (and checked) now, so a wrong file stops the server with a clear message.
    app.state.map_tiles = map_tiles.archive_for(settings)
    app.state.engine = engine
    app.state.uow_factory = uow_factory
    app.state.broker = broker
    app.state.cluster = cluster
    app.state.ingest = ingest
    app.state.device_link = hub
    app.device_link = hub.serve
    app.state.gc_pauses = gc_pauses
    app.state.metrics = operations
    app.state.calls = calls
    app.state.cameras = cameras
    app.state.supervision = supervision
    app.state.outbox = outbox

    app.include_router(api.router)
    app.include_router(call_pages.router)
    app.include_router(camera_api.router)
    app.include_router(triage_supervision.router)
    app.include_router(pages.router)
    app.include_router(account_pages.router)
    app.include_router(console_ws.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(unit_config_pages.router)
    app.include_router(audit.router)
    app.include_router(admin.router)
    app.include_router(admin_pages.router)
    app.include_router(admin_units.router)
    app.include_router(admin_contacts.router)
    app.include_router(api_tokens.router)
    app.include_router(trouble.router)
    app.include_router(escalation.router)
    app.include_router(police_pages.router)
    app.include_router(sla_pages.router)
    app.include_router(public.router)
    app.include_router(map_tiles.router)
    app.include_router(report_pages.router)
    app.include_router(media_api.router)
    app.include_router(media_api.page_router)
    app.include_router(triage_api.router)
    app.include_router(sia_api.router)

    @app.websocket(DEVICE_PATH)
    async def device_link(websocket: WebSocket) -> None:
        await hub.serve(websocket)

    app.mount("/static/leaflet", StaticFiles(directory=leaflet.BASE_DIR), name="leaflet")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    for exc_type, code in (
        (NotFound, 404),
        (AlreadyClaimed, 409),
        (InvalidTransition, 409),
        (InvalidInput, 400),
    ):
        app.add_exception_handler(exc_type, _error_handler(code))
    # A number too large for the database (an id of 10^30 from a fuzzer) or text it cannot
    # store is bad input, not a server error; the message does not echo database internals.
    # A browser sent to a page its role may not use gets an HTML page (web/forbidden.py).
    app.add_exception_handler(StarletteHTTPException, html_errors)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(DataError, _out_of_range)
    # Public pages and their files gzipped for phones on slow links (web/compress.py).
    app.add_middleware(PublicGZip)

    # Security headers (CSP …) on every response and CSRF checks for every cookie-authenticated
    # request (docs/security.md); outside everything else, a server error's 500 included.
    app.security = functools.partial(
        SecurityMiddleware,
        hsts_seconds=settings.hsts_seconds,
        secure_cookies=settings.secure_cookies,
        # With a local archive, tiles come from this server only ('self').
        map_tiles_url="" if app.state.map_tiles is not None else settings.map_tiles_url,
        max_body_bytes=settings.max_body_bytes,
    )

    return app


class HelppointApp(FastAPI):
    """The FastAPI app, except that units' links go straight to the device-link hub.

    Through the web stack each link kept ~25 coroutines (middleware, routing, the route's
    wrappers) alive for as long as it is connected: with thousands of links per process that
    was most of the objects a full garbage collection walks, and routing was a tenth of the
    cost of a connection. None of it applies to a unit: it authenticates with its key in the
    hello, carries no cookies, and the security headers are for browsers. The route stays
    registered (the API schema and role table list it; a prefixed root path still reaches it).
    """

    #: Runs one unit's link (DeviceLinkHub.serve), set by create_app.
    device_link: Callable[[WebSocket], Awaitable[None]] | None = None
    #: Wraps the whole middleware stack, Starlette's error handling included, so that every
    #: response gets the security headers: a 500 is made by ServerErrorMiddleware, which sits
    #: outside middleware added with add_middleware. Set by create_app.
    security: Callable[[ASGIApp], ASGIApp] | None = None

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        return stack if self.security is None else self.security(stack)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "websocket"
            and scope["path"] == DEVICE_PATH
            and self.device_link is not None
        ):
            # A unit authenticates in its hello: nothing reads its handshake's headers after
            # this (the proxy headers were read), yet the scope stays for the link's life.
            scope["headers"] = ()
            await self.device_link(WebSocket(scope, receive, send))
            return
        # /api/v1/… is served by the routes declared under /api/… (web/api_version.py).
        await super().__call__(unversioned(scope), receive, send)

    def openapi(self) -> dict[str, Any]:
        """The API document, with the JSON API published under /api/v1/."""
        cached = self.openapi_schema
        document = super().openapi()
        if document is not cached:  # made anew (FastAPI remakes it when routes change)
            versioned_document(document)
        return document


def app_from_environment() -> FastAPI:
    """The app built from HELPPOINT_* settings: one per process of `serve --workers N`."""
    app = create_app(Settings.load())
    tune_for_serving()  # once the app is built (helppoint/gcpauses.py)
    return app


def _ingest_writer(
    settings: Settings,
    engine: Engine,
    broker: Broker,
    cluster: Cluster | None,
    operations: metrics.Metrics,
) -> BatchWriter | None:
    """The writer process for events, unless settings (or an in-memory database) say thread."""
    if settings.ingest_writer != "process" or engine.url.database in (None, "", ":memory:"):
        return None  # the ingest queue's own thread
    url = engine.url.render_as_string(hide_password=False)
    window = timedelta(seconds=settings.join_window)

    def writer() -> ProcessWriter:
        if cluster is not None:
            # Messages are NOTIFYed in the writer's transaction and delivered here after it.
            return ProcessWriter(
                url,
                window,
                operations.tap_writer(broker.publish_local),
                cluster.bus.notifier,
                operations.observe_batch_parts,
            )
        return ProcessWriter(
            url,
            window,
            operations.tap_writer(broker.relay),
            observe_parts=operations.observe_batch_parts,
        )

    if engine.dialect.name == "postgresql" and settings.ingest_writers > 1:
        return ShardedWriter([writer() for _ in range(settings.ingest_writers)])
    return writer()


def _periodic_jobs(
    app: FastAPI,
    settings: Settings,
    uow_factory: Callable[[], UnitOfWork],
    ingest: IngestQueue,
    outbox: OutboxService,
    cluster: Cluster | None,
) -> Elector:
    """The jobs exactly one process runs; each start makes fresh workers (they can move)."""

    async def run_supervision() -> Callable[[], Awaitable[None]]:
        worker = SupervisionWorker(
            uow_factory,
            settings.supervision_interval,
            still_alive=ingest.heard_unwritten,
            # What the other server processes heard and have not written yet.
            heard_through=lambda: (
                cluster.presence.others_heard_through if cluster is not None else None
            ),
        )
        app.state.supervision = worker
        worker.start()
        return worker.stop

    async def run_outbox() -> Callable[[], Awaitable[None]]:
        await outbox.start()
        return outbox.stop

    async def run_sla() -> Callable[[], Awaitable[None]]:
        worker = SlaWorker(uow_factory, timedelta(seconds=settings.sla_ack_seconds))
        worker.start()
        return worker.stop

    async def run_triage() -> Callable[[], Awaitable[None]]:
        # Patterns and suggestion rules (docs/triage.md): marks alarms, never closes them.
        worker = TriageWorker(
            uow_factory, app.state.broker, settings.sla_timezone, settings.chatter_rule
        )
        app.state.triage = worker
        worker.start()
        return worker.stop

    async def run_self_tests() -> Callable[[], Awaitable[None]]:
        worker = SelfTestWorker(
            uow_factory,
            app.state.device_link,
            DefaultSchedule(settings.self_test_at, settings.self_test_timezone),
            settings.self_test_interval,
        )
        app.state.self_tests = worker
        worker.start()
        return worker.stop

    async def run_sia_receiver() -> Callable[[], Awaitable[None]]:
        # One process listens on the DC-09 port: alarm panels send to one address, and a
        # second process could not bind it anyway. Another process takes over if it dies.
        receiver = SiaReceiver(
            uow_factory,
            ingest,
            host=settings.sia_host or settings.host,
            port=settings.sia_port,
            udp=settings.sia_udp,
            rate=settings.sia_rate,
            burst=2 * settings.sia_rate,
        )
        await receiver.start()
        app.state.sia = receiver
        return receiver.stop

    async def run_sip_gateway() -> Callable[[], Awaitable[None]]:
        # SIP help points (docs/sip.md): one process runs the SIP server, like the receiver.
        from helppoint.sip.gateway import SipGateway

        gateway = SipGateway(
            uow_factory,
            ingest,
            settings,
            calls=app.state.calls,
            device_link=app.state.device_link,
            broker=app.state.broker,
        )
        await gateway.start()
        app.state.sip = gateway
        return gateway.stop

    async def run_call_housekeeping() -> Callable[[], Awaitable[None]]:
        calls: CallHub = app.state.calls
        await calls.end_stale_calls()  # before answering: calls a crash left open
        task = asyncio.get_running_loop().create_task(calls.housekeeping(), name="calls")

        async def stop() -> None:
            await cancel_and_wait(task)

        return stop

    jobs = [Job("outbox", run_outbox), Job("sla", run_sla), Job("calls", run_call_housekeeping)]
    jobs.append(
        Job("cameras", lambda: start_camera_job(uow_factory, app.state.broker, app.state.cameras))
    )
    jobs.append(Job("triage", run_triage))
    if settings.sia_port:
        jobs.append(Job("sia-receiver", run_sia_receiver))
    if settings.sip_port:
        jobs.append(Job("sip-gateway", run_sip_gateway))
    if settings.self_tests:
        jobs.append(Job("selftest", run_self_tests))
    if settings.supervision:
        jobs.insert(0, Job("supervision", run_supervision))
    if cluster is None:
        return Elector(jobs, None)
    return cluster.elect(jobs)


def _record_command_result(
    uow_factory: Callable[[], UnitOfWork], unit_id: str, command_id: str, ok: bool, detail: str
) -> None:
    unit_commands.record_result(uow_factory(), unit_id, command_id, ok, detail)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    """FastAPI's own 422, with non-ASCII escaped: JSON text may carry a lone surrogate
    ("\\ud800"), which the default handler echoed back and could not encode (a 500)."""
    assert isinstance(exc, RequestValidationError)
    body = json.dumps({"detail": jsonable_encoder(exc.errors())}, ensure_ascii=True)
    return Response(body, status_code=422, media_type="application/json")


async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
    log.info("refused out-of-range input on %s: %s", request.url.path, type(exc).__name__)
    return JSONResponse({"detail": "a value in the request is out of range"}, status_code=400)


def _error_handler(code: int) -> Any:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=code)

    return handler
