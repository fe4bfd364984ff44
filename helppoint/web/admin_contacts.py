"""The admin pages of maintainers, self-test schedules, SIA DC-09 accounts and notification
channels (with a test message by email or webhook). Forms, as in admin_pages.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from helppoint.domain.errors import DomainError, InvalidInput
from helppoint.domain.model import Operator
from helppoint.domain.selftest import DefaultSchedule
from helppoint.services import channels as channel_service
from helppoint.services import maintainers, selftest, sia_accounts, unit_admin
from helppoint.services import zones as zone_service
from helppoint.services.clock import utcnow
from helppoint.web.admin_pages import admin_action, admin_or_response, error_status, render
from helppoint.web.deps import client_address

router = APIRouter(include_in_schema=False, tags=["admin pages"])


def _zones(request: Request) -> list[zone_service.ZoneRow]:
    return zone_service.list_zones(request.app.state.uow_factory())


def _units(request: Request) -> list[unit_admin.UnitRow]:
    return unit_admin.unit_rows(request.app.state.uow_factory(), include_retired=False)


# ---- maintainers ---------------------------------------------------------------------------


def maintainers_page(
    request: Request, operator: Operator, status_code: int = 200, **values: Any
) -> Response:
    return render(
        request,
        operator,
        "admin_maintainers.html",
        "/admin/maintainers",
        status_code,
        contacts=maintainers.contacts(request.app.state.uow_factory()),
        zones=_zones(request),
        form=values.pop("form", {}),
        **values,
    )


@router.get("/admin/maintainers", response_class=HTMLResponse)
def maintainer_list(request: Request) -> Response:
    """Who is told about faults, by email or webhook."""
    operator = admin_or_response(request)
    if not isinstance(operator, Operator):
        return operator
    return maintainers_page(request, operator)


@router.post("/admin/maintainers", response_class=HTMLResponse)
def add_maintainer(
    request: Request,
    name: str = Form(""),
    channel: str = Form("email"),
    target: str = Form(""),
    zone_id: str = Form(""),
) -> Response:
    operator = admin_or_response(request)
    if not isinstance(operator, Operator):
        return operator
    form = {"name": name[:200], "channel": channel[:16], "target": target[:400], "zone_id": zone_id}
    try:
        contact = maintainers.add_contact(
            request.app.state.uow_factory(),
            form["name"],
            form["channel"],
            form["target"],
            operator.username,
            utcnow(),
            zone_id[:64] or None,
        )
    except DomainError as exc:
        return maintainers_page(request, operator, error_status(exc), error=str(exc), form=form)
    return maintainers_page(request, operator, message=f"Maintainer {contact['name']} added.")


@router.post("/admin/maintainers/{contact_id}/remove", response_class=HTMLResponse)
def remove_maintainer(request: Request, contact_id: int) -> Response:
    def act(admin: Operator) -> str:
        maintainers.remove_contact(
            request.app.state.uow_factory(), contact_id, admin.username, utcnow()
        )
        return f"Maintainer contact {contact_id} removed."

    return admin_action(request, maintainers_page, act)


# ---- self-test schedules -------------------------------------------------------------------


def self_tests_page(
    request: Request, operator: Operator, status_code: int = 200, **values: Any
) -> Response:
    settings = request.app.state.settings
    return render(
        request,
        operator,
        "admin_self_tests.html",
        "/admin/self-tests",
        status_code,
        schedules=selftest.schedules(request.app.state.uow_factory()),
        default_at=settings.self_test_at,
        default_timezone=settings.self_test_timezone,
        zones=_zones(request),
        units=_units(request),
        **values,
    )


@router.get("/admin/self-tests", response_class=HTMLResponse)
def self_tests(request: Request) -> Response:
    """When each zone's (or unit's) self-test runs."""
    operator = admin_or_response(request)
    if not isinstance(operator, Operator):
        return operator
    return self_tests_page(request, operator)


@router.post("/admin/self-tests", response_class=HTMLResponse)
def set_self_test(
    request: Request,
    scope: str = Form(""),
    at_time: str = Form(""),
    timezone: str = Form("Europe/London"),
    enabled: str = Form(""),
) -> Response:
    """`scope` is "zone:ID" or "unit:ID"."""

    def act(admin: Operator) -> str:
        kind, _, target = scope.partition(":")
        if kind not in ("zone", "unit") or not target:
            raise InvalidInput("choose a zone or a unit")
        settings = request.app.state.settings
        saved = selftest.set_schedule(
            request.app.state.uow_factory(),
            admin.username,
            at_time[:5],
            timezone[:64],
            utcnow(),
            DefaultSchedule(settings.self_test_at, settings.self_test_timezone),
            unit_id=target[:64] if kind == "unit" else None,
            zone_id=target[:64] if kind == "zone" else None,
            enabled=enabled == "yes",
        )
        worker = getattr(request.app.state, "self_tests", None)
        if worker is not None:
            worker.wake()
        state = f"daily at {saved['at_time']} {saved['timezone']}" if saved["enabled"] else "off"
        return f"Self-test of {kind} {target}: {state}."

    return admin_action(request, self_tests_page, act)


# ---- SIA DC-09 accounts --------------------------------------------------------------------


def sia_page(
    request: Request, operator: Operator, status_code: int = 200, **values: Any
) -> Response:
    uow = request.app.state.uow_factory()
    with uow:
        accounts = [sia_accounts.account_view(a) for a in sia_accounts.list_accounts(uow)]
    return render(
        request,
        operator,
        "admin_sia.html",
        "/admin/sia",
        status_code,
        accounts=accounts,
        units=_units(request),
        form=values.pop("form", {}),
        **values,
    )


@router.get("/admin/sia", response_class=HTMLResponse)
def sia(request: Request) -> Response:
    """Which unit each alarm panel's DC-09 account reports for."""
    operator = admin_or_response(request)
    if not isinstance(operator, Operator):
        return operator
    return sia_page(request, operator)


@router.post("/admin/sia", response_class=HTMLResponse)
def save_sia_account(
    request: Request,
    account: str = Form(""),
    unit_id: str = Form(""),
    key_hex: str = Form(""),
) -> Response:
    operator = admin_or_response(request)
    if not isinstance(operator, Operator):
        return operator
    form = {"account": account[:32], "unit_id": unit_id[:64]}
    uow = request.app.state.uow_factory()
    try:
        with uow:
            saved = sia_accounts.save_account(
                uow,
                form["account"],
                form["unit_id"],
                key_hex.strip()[:128] or None,
                actor=operator.username,
            )
            uow.commit()
            done = f"SIA account {saved.account} reports for unit {saved.unit_id}."
    except DomainError as exc:
        return sia_page(request, operator, error_status(exc), error=str(exc), form=form)
    return sia_page(request, operator, message=done)


@router.post("/admin/sia/{account}/deactivate", response_class=HTMLResponse)
def deactivate_sia_account(request: Request, account: str) -> Response:
    def act(admin: Operator) -> str:
        uow = request.app.state.uow_factory()
        with uow:
            sia_accounts.deactivate_account(uow, account, admin.username)
            uow.commit()
        return f"SIA account {account.upper()} deactivated: its messages are answered DUH."

    return admin_action(request, sia_page, act)


# ---- notification channels -----------------------------------------------------------------


def channels_page(
    request: Request, operator: Operator, status_code: int = 200, **values: Any
) -> Response:
    settings = request.app.state.settings
    return render(
        request,
        operator,
        "admin_channels.html",
        "/admin/channels",
        status_code,
        channels=channel_service.configured_channels(request.app.state.uow_factory()),
        smtp=f"{settings.smtp_host}:{settings.smtp_port}",
        smtp_sender=settings.smtp_sender,
        **values,
    )


@router.get("/admin/channels", response_class=HTMLResponse)
def channels(request: Request) -> Response:
    """Every configured destination with its health; a test message for each."""
    operator = admin_or_response(request)
    if not isinstance(operator, Operator):
        return operator
    return channels_page(request, operator)


@router.post("/admin/channels/test", response_class=HTMLResponse)
async def test_channel(
    request: Request, channel: str = Form(""), target: str = Form("")
) -> Response:
    """Send a test message now by email or to a webhook, and say whether it went."""
    operator = await run_in_threadpool(admin_or_response, request)
    if not isinstance(operator, Operator):
        return operator
    try:
        done = await channel_service.send_test(
            request.app.state.uow_factory,
            request.app.state.settings,
            channel[:16],
            target[:400],
            operator.username,
            client_address(request),
        )
    except DomainError as exc:
        return await run_in_threadpool(channels_page, request, operator, 400, error=str(exc))
    return await run_in_threadpool(channels_page, request, operator, message=done)
