"""The ASGI application factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from xstatic.pkg import leaflet

from helppoint import __version__
from helppoint.config import Settings
from helppoint.domain.errors import AlreadyClaimed, InvalidInput, InvalidTransition, NotFound
from helppoint.gateway.broker import Broker
from helppoint.gateway.device_link import DeviceLinkHub
from helppoint.gateway.ingest_queue import IngestQueue
from helppoint.gateway.sia.receiver import SiaReceiver
from helppoint.store.database import make_engine, make_session_factory
from helppoint.store.uow import UnitOfWork
from helppoint.web import admin, api, audit, console_ws, escalation, health, pages, public
from helppoint.web import police as police_pages
from helppoint.web import reports as report_pages
from helppoint.web import sla as sla_pages
from helppoint.workers.outbox import OutboxService
from helppoint.workers.sla import SlaWorker
from helppoint.workers.supervision import SupervisionWorker

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

    def uow_factory() -> UnitOfWork:
        return UnitOfWork(session_factory, broker.publish)

    ingest = IngestQueue(uow_factory, timedelta(seconds=settings.join_window))
    supervision = SupervisionWorker(
        uow_factory, settings.supervision_interval, still_alive=ingest.heard_unwritten
    )
    outbox = OutboxService(settings, uow_factory, broker)
    sla = SlaWorker(uow_factory, timedelta(seconds=settings.sla_ack_seconds))
    hub = DeviceLinkHub(
        uow_factory,
        ingest,
        broker,
        heartbeat_period=settings.heartbeat_period,
        max_frame_bytes=settings.max_frame_bytes,
        hello_timeout=settings.hello_timeout,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        broker.bind(asyncio.get_running_loop())
        ingest.start()
        if settings.supervision:
            supervision.start()
        sia = None
        if settings.sia_port:
            sia = SiaReceiver(
                uow_factory,
                ingest,
                host=settings.sia_host or settings.host,
                port=settings.sia_port,
                udp=settings.sia_udp,
                rate=settings.sia_rate,
                burst=2 * settings.sia_rate,
            )
            await sia.start()
            app.state.sia = sia
        await outbox.start()
        sla.start()
        cleanup = None
        if on_startup is not None:
            cleanup = await on_startup(app)
        try:
            yield
        finally:
            if cleanup is not None:
                await cleanup()
            await hub.close_all()
            if sia is not None:
                await sia.stop()
            await supervision.stop()
            await outbox.stop()
            await sla.stop()
            await ingest.stop()

    app = FastAPI(
        title="helppoint",
        version=__version__,
        description="Control-room API for public SOS Help Points.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.uow_factory = uow_factory
    app.state.broker = broker
    app.state.ingest = ingest
    app.state.device_link = hub
    app.state.supervision = supervision
    app.state.outbox = outbox
    hub.on_config_applied = health.config_confirmer(uow_factory)

    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(console_ws.router)
    app.include_router(health.router)
    app.include_router(audit.router)
    app.include_router(admin.router)
    app.include_router(escalation.router)
    app.include_router(police_pages.router)
    app.include_router(sla_pages.router)
    app.include_router(public.router)
    app.include_router(report_pages.router)

    @app.websocket("/device/v1")
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

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app


def _error_handler(code: int) -> Any:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=code)

    return handler
