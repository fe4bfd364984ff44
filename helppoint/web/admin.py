"""Administration of trigger plans: the admin page and its JSON API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from helppoint.domain.model import Operator, Permission
from helppoint.domain.plans import PlanInvalid
from helppoint.services import plans as plan_service
from helppoint.services.plan_yaml import MAX_PLAN_BYTES
from helppoint.web.deps import client_address, require
from helppoint.web.forbidden import forbidden_page
from helppoint.web.rendering import page_context, signed_in_operator, templates
from helppoint.web.security import accepts_body_up_to

router = APIRouter(tags=["trigger plans"])
Admin = Annotated[Operator, Depends(require(Permission.ADMINISTER))]


class PlanBody(BaseModel):
    source: str = Field(min_length=1, max_length=MAX_PLAN_BYTES)


#: A JSON body holding the largest plan file, whatever the client escapes (\uXXXX: 6 bytes).
PLAN_BODY_BYTES = 6 * MAX_PLAN_BYTES + 1024


def _invalid(exc: PlanInvalid) -> JSONResponse:
    return JSONResponse(
        {
            "detail": str(exc),
            "problems": [
                {"line": p.line, "where": p.where, "message": p.message} for p in exc.problems
            ],
        },
        status_code=422,
    )


@router.get("/api/plans")
def list_plans(request: Request, admin: Admin) -> list[dict[str, Any]]:
    """Every active plan: zone plans, then unit overrides."""
    return plan_service.list_plans(request.app.state.uow_factory())


@router.post("/api/plans/check", response_model=None)
@accepts_body_up_to(PLAN_BODY_BYTES)
def check_plan(body: PlanBody, request: Request, admin: Admin) -> dict[str, Any] | JSONResponse:
    """Validate a plan file without activating it (422 lists every problem with its line)."""
    try:
        plan = plan_service.check_plan(request.app.state.uow_factory(), body.source)
    except PlanInvalid as exc:
        return _invalid(exc)
    return {"ok": True, "scope": plan.scope.value, "target_id": plan.target_id, "name": plan.name}


@router.put("/api/plans", response_model=None)
@accepts_body_up_to(PLAN_BODY_BYTES)
def import_plan(body: PlanBody, request: Request, admin: Admin) -> dict[str, Any] | JSONResponse:
    """Validate a plan file and make it the active plan of its zone or unit; an invalid plan
    changes nothing (422 lists every problem with its line)."""
    try:
        return plan_service.import_plan(
            request.app.state.uow_factory(), body.source, admin.username, client_address(request)
        )
    except PlanInvalid as exc:
        return _invalid(exc)


@router.get("/api/plans/example", response_class=Response)
def example_plan(admin: Admin) -> Response:
    """A commented example plan to start from."""
    return Response(plan_service.EXAMPLE_PLAN, media_type="application/yaml")


@router.get("/api/plans/{scope}/{target_id}")
def get_plan(scope: str, target_id: str, request: Request, admin: Admin) -> dict[str, Any]:
    """The active plan of a zone or unit, with its file."""
    return plan_service.get_plan(
        request.app.state.uow_factory(), plan_service.parse_scope(scope), target_id
    )


@router.get("/api/plans/{scope}/{target_id}/export", response_class=Response)
def export_plan(scope: str, target_id: str, request: Request, admin: Admin) -> Response:
    """The plan file as imported, as a YAML download."""
    text = plan_service.export_plan(
        request.app.state.uow_factory(), plan_service.parse_scope(scope), target_id
    )
    filename = f"plan-{scope}-{target_id}.yaml".replace('"', "")
    return Response(
        text,
        media_type="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.delete("/api/plans/{scope}/{target_id}", status_code=204)
def delete_plan(scope: str, target_id: str, request: Request, admin: Admin) -> Response:
    """Remove a plan; a unit then follows its zone's plan again."""
    plan_service.delete_plan(
        request.app.state.uow_factory(),
        plan_service.parse_scope(scope),
        target_id,
        admin.username,
        client_address(request),
    )
    return Response(status_code=204)


@router.get("/admin/plans", response_class=HTMLResponse, include_in_schema=False)
def plans_page(request: Request) -> Response:
    """View, edit, import and export trigger plans."""
    operator = signed_in_operator(request)
    if operator is None:
        return RedirectResponse("/login?next=/admin/plans", status_code=303)
    if not operator.can(Permission.ADMINISTER):
        return forbidden_page(request, operator, "Only administrators may edit trigger plans.")
    context = page_context(request, operator) | {"demo": False}
    return templates.TemplateResponse(request, "plans.html", context)
