"""The remote configuration page of one unit, on top of the configure API (web/health.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from helppoint.domain.model import Permission
from helppoint.gateway.device_link import DeviceLinkHub
from helppoint.protocol.device_link import PROMPTS
from helppoint.services import unit_config
from helppoint.web.deps import HistoryReader, unit_of_work
from helppoint.web.rendering import page_context, signed_in_operator, templates

router = APIRouter(tags=["supervision"])


class AppliedSettings(BaseModel):
    """What a unit confirmed it uses now, setting by setting, and when each was confirmed."""

    unit_id: str
    name: str
    #: The heartbeat period the server supervises the unit with.
    supervised_period: int
    applied: dict[str, Any]
    applied_at: dict[str, str | None]
    #: Configuration requests still waiting for the unit's answer.
    pending: int
    connected: bool


@router.get("/units/{unit_id}/config", response_class=HTMLResponse, include_in_schema=False)
def unit_config_page(unit_id: str, request: Request) -> Response:
    operator = signed_in_operator(request)
    if operator is None:
        return RedirectResponse(f"/login?next=/units/{unit_id}/config", status_code=303)
    if not operator.can(Permission.VIEW_HISTORY):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not view unit settings")
    # 404 for an unknown unit.
    current = unit_config.applied_settings(unit_of_work(request), unit_id)
    page = {
        "unit_id": unit_id,
        "can_configure": operator.can(Permission.ADMINISTER),
        "prompts": PROMPTS,
        "ranges": {
            name: {"min": low, "max": high}
            for name, (low, high) in unit_config.INT_SETTINGS.items()
        },
    }
    context = page_context(request, operator) | {"unit": current, "page": page}
    return templates.TemplateResponse(request, "unit_config.html", context)


@router.get("/api/units/{unit_id}/settings", response_model=AppliedSettings)
def unit_settings(unit_id: str, request: Request, operator: HistoryReader) -> dict[str, Any]:
    """What the unit confirmed it uses now (setting by setting), and whether it is connected."""
    hub: DeviceLinkHub = request.app.state.device_link
    current = unit_config.applied_settings(unit_of_work(request), unit_id)
    return current | {"connected": hub.has_link(unit_id)}
