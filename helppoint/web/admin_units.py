"""The admin pages of units: add (the key shown once), edit and move, revoke, rotate the key,
remove (a unit with history is retired). Places go through the guard rails of
domain/places.py: a doubtful place is answered with the reason and a box to confirm it."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from helppoint.domain.commissioning import COMMISSIONING_MINUTES
from helppoint.domain.errors import DomainError, InvalidInput
from helppoint.domain.model import Operator
from helppoint.domain.places import PlaceUnconfirmed
from helppoint.domain.units import Removal
from helppoint.services import commissioning, unit_admin
from helppoint.services import units as unit_service
from helppoint.services import zones as zone_service
from helppoint.services.units import ProvisionedUnit
from helppoint.web.admin_pages import admin_action, admin_or_response, error_status, render
from helppoint.web.deps import client_address

router = APIRouter(include_in_schema=False, tags=["admin pages"])


def _rules(request: Request) -> unit_admin.PlaceRules:
    return unit_admin.PlaceRules.from_settings(request.app.state.settings)


def _number(text: str, what: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise InvalidInput(f"{what} must be a number in degrees, such as 52.2372") from None
    if not math.isfinite(value):
        raise InvalidInput(f"{what} must be a number in degrees")
    return value


def units_page(
    request: Request, operator: Operator, status_code: int = 200, **values: Any
) -> Response:
    uow = request.app.state.uow_factory
    return render(
        request,
        operator,
        "admin_units.html",
        "/admin/units",
        status_code,
        units=unit_admin.unit_rows(uow(), include_retired=True),
        zones=zone_service.list_zones(uow()),
        form=values.pop("form", {}),
        **values,
    )


def key_page(
    request: Request, operator: Operator, provisioned: ProvisionedUnit, what: str
) -> Response:
    """The unit's key, shown this once (not cached, never stored in plain)."""
    return render(
        request,
        operator,
        "admin_unit_key.html",
        "/admin/units",
        provisioned=provisioned,
        what=what,
    )


@router.get("/admin/units", response_class=HTMLResponse)
def units(request: Request) -> Response:
    """Every unit with its state; the form to add one."""
    operator = admin_or_response(request)
    if not isinstance(operator, Operator):
        return operator
    return units_page(request, operator)


@router.post("/admin/units", response_class=HTMLResponse)
def add_unit(
    request: Request,
    unit_id: str = Form(""),
    name: str = Form(""),
    zone_id: str = Form(""),
    latitude: str = Form(""),
    longitude: str = Form(""),
    description: str = Form(""),
    confirm_place: str = Form(""),
) -> Response:
    operator = admin_or_response(request)
    if not isinstance(operator, Operator):
        return operator
    form = {
        "unit_id": unit_id[:64],
        "name": name[:400],
        "zone_id": zone_id[:64],
        "latitude": latitude[:40],
        "longitude": longitude[:40],
        "description": description[:4000],
    }
    try:
        provisioned = unit_admin.add_unit(
            request.app.state.uow_factory(),
            form["unit_id"],
            form["name"],
            form["zone_id"],
            _number(form["latitude"], "latitude"),
            _number(form["longitude"], "longitude"),
            form["description"],
            actor=operator.username,
            address=client_address(request),
            rules=_rules(request),
            confirm_place=confirm_place == "yes",
        )
    except PlaceUnconfirmed as exc:
        return units_page(request, operator, 409, error=str(exc), form=form, confirm=True)
    except DomainError as exc:
        return units_page(request, operator, error_status(exc), error=str(exc), form=form)
    return key_page(request, operator, provisioned, "added")


def unit_page(
    request: Request, operator: Operator, unit_id: str, status_code: int = 200, **values: Any
) -> Response:
    uow = request.app.state.uow_factory
    unit = unit_admin.get_unit(uow(), unit_id)
    return render(
        request,
        operator,
        "admin_unit.html",
        "/admin/units",
        status_code,
        unit=unit,
        zones=zone_service.list_zones(uow()),
        form=values.pop("form", None)
        or {
            "name": unit.name,
            "zone_id": unit.zone_id,
            "latitude": f"{unit.latitude:.6f}",
            "longitude": f"{unit.longitude:.6f}",
            "description": unit.description,
        },
        **values,
    )


@router.get("/admin/units/{unit_id}", response_class=HTMLResponse)
def unit(request: Request, unit_id: str) -> Response:
    """One unit: edit or move it, revoke it, give it a new key, remove it."""
    operator = admin_or_response(request)
    if not isinstance(operator, Operator):
        return operator
    try:
        return unit_page(request, operator, unit_id)
    except DomainError as exc:
        return units_page(request, operator, error_status(exc), error=str(exc))


@router.post("/admin/units/{unit_id}", response_class=HTMLResponse)
def change_unit(
    request: Request,
    unit_id: str,
    name: str = Form(""),
    zone_id: str = Form(""),
    latitude: str = Form(""),
    longitude: str = Form(""),
    description: str = Form(""),
    confirm_place: str = Form(""),
) -> Response:
    operator = admin_or_response(request)
    if not isinstance(operator, Operator):
        return operator
    form = {
        "name": name[:400],
        "zone_id": zone_id[:64],
        "latitude": latitude[:40],
        "longitude": longitude[:40],
        "description": description[:4000],
    }
    try:
        changed = unit_admin.update_unit(
            request.app.state.uow_factory(),
            unit_id,
            form["name"],
            form["description"],
            form["zone_id"],
            _number(form["latitude"], "latitude"),
            _number(form["longitude"], "longitude"),
            actor=operator.username,
            address=client_address(request),
            rules=_rules(request),
            confirm_place=confirm_place == "yes",
        )
    except PlaceUnconfirmed as exc:
        return unit_page(request, operator, unit_id, 409, error=str(exc), form=form, confirm=True)
    except DomainError as exc:
        try:
            return unit_page(
                request, operator, unit_id, error_status(exc), error=str(exc), form=form
            )
        except DomainError:
            return units_page(request, operator, error_status(exc), error=str(exc))
    return unit_page(request, operator, unit_id, message=f"Unit {changed.id} saved.")


@router.post("/admin/units/{unit_id}/revoke", response_class=HTMLResponse)
def revoke_unit(request: Request, unit_id: str) -> Response:
    def act(admin: Operator) -> str:
        unit_service.revoke_unit(
            request.app.state.uow_factory(), unit_id, admin.username, client_address(request)
        )
        return (
            f"Unit {unit_id} revoked: its key no longer works and its link was closed. "
            "Add it again to provision it with a new key."
        )

    return admin_action(request, units_page, act)


@router.post("/admin/units/{unit_id}/rotate-key", response_class=HTMLResponse)
def rotate_key(request: Request, unit_id: str, overlap_hours: str = Form("0")) -> Response:
    operator = admin_or_response(request)
    if not isinstance(operator, Operator):
        return operator
    try:
        hours = _number(overlap_hours[:20] or "0", "the overlap")
        provisioned = unit_service.rotate_unit_key(
            request.app.state.uow_factory(),
            unit_id,
            timedelta(hours=hours),
            operator.username,
            client_address(request),
        )
    except (DomainError, OverflowError) as exc:
        message = str(exc) if isinstance(exc, DomainError) else "the overlap is out of range"
        status = error_status(exc) if isinstance(exc, DomainError) else 400
        return units_page(request, operator, status, error=message)
    return key_page(request, operator, provisioned, "given a new key")


@router.post("/admin/units/{unit_id}/remove", response_class=HTMLResponse)
def remove_unit(request: Request, unit_id: str) -> Response:
    def act(admin: Operator) -> str:
        removal = unit_admin.remove_unit(
            request.app.state.uow_factory(), unit_id, admin.username, client_address(request)
        )
        if removal is Removal.DELETED:
            return f"Unit {unit_id} deleted (nothing had happened at it)."
        return (
            f"Unit {unit_id} retired: its history stays on the record; it is on no map, sign "
            "or page any more and its key no longer works."
        )

    return admin_action(request, units_page, act)


# ---- commissioning -------------------------------------------------------------------------


def commissioning_page(
    request: Request, operator: Operator, unit_id: str, status_code: int = 200, **values: Any
) -> Response:
    uow = request.app.state.uow_factory
    return render(
        request,
        operator,
        "admin_commissioning.html",
        "/admin/units",
        status_code,
        unit=unit_admin.get_unit(uow(), unit_id),
        run=commissioning.status(uow(), unit_id),
        **values,
    )


@router.get("/admin/units/{unit_id}/commissioning", response_class=HTMLResponse)
def commissioning_checklist(request: Request, unit_id: str) -> Response:
    """The unit's commissioning test: start one, and see which steps of the path passed."""
    operator = admin_or_response(request)
    if not isinstance(operator, Operator):
        return operator
    try:
        return commissioning_page(request, operator, unit_id)
    except DomainError as exc:
        return units_page(request, operator, error_status(exc), error=str(exc))


@router.post("/admin/units/{unit_id}/commissioning", response_class=HTMLResponse)
def start_commissioning(request: Request, unit_id: str) -> Response:
    operator = admin_or_response(request)
    if not isinstance(operator, Operator):
        return operator
    try:
        commissioning.start(
            request.app.state.uow_factory, unit_id, operator.username, client_address(request)
        )
    except DomainError as exc:
        return units_page(request, operator, error_status(exc), error=str(exc))
    return commissioning_page(
        request,
        operator,
        unit_id,
        message=f"Commissioning test of {unit_id} started: the unit is on test for "
        f"{COMMISSIONING_MINUTES} minutes. Press its button now.",
    )
