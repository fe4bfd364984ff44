"""Administration of trigger plans: the admin page and its JSON API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from helppoint.domain.model import Operator, Permission
from helppoint.domain.plans import ActionKind, Channel, PlanInvalid, PlanScope
from helppoint.services import plans as plan_service
from helppoint.services.plan_yaml import MAX_PLAN_BYTES
from helppoint.web.deps import client_address, require
from helppoint.web.file_answers import file_answer
from helppoint.web.forbidden import forbidden_page
from helppoint.web.rendering import page_context, signed_in_operator, templates
from helppoint.web.security import accepts_body_up_to

router = APIRouter(tags=["trigger plans"])
Admin = Annotated[Operator, Depends(require(Permission.ADMINISTER))]


class PlanBody(BaseModel):
    source: str = Field(min_length=1, max_length=MAX_PLAN_BYTES)


class PoliceContact(BaseModel):
    """How the plan reaches the police: their URN and phone line."""

    urn: str
    phone: str


class PlanActionView(BaseModel):
    """One action of a rule: who to notify, how, where, with which message template."""

    notify: ActionKind
    channel: Channel
    to: str
    template: str
    #: Seconds within which the recipient must acknowledge; null: no deadline.
    ack_within: int | None


class PlanRuleView(BaseModel):
    """The actions for some classifications, in a time window (null: at any time)."""

    when: list[str]
    window: str | None
    actions: list[PlanActionView]


class PlanView(BaseModel):
    """An active trigger plan of a zone or a unit (services/plans.plan_view)."""

    scope: PlanScope
    target_id: str
    name: str
    version: int
    updated_at: str
    updated_by: str
    timezone: str
    police: PoliceContact | None
    #: The names of the plan's time windows.
    windows: list[str]
    rules: list[PlanRuleView]


class PlanWithSource(PlanView):
    """An active plan with its file, exactly as imported."""

    source: str


class PlanChecked(BaseModel):
    """A valid plan file, and what it would replace."""

    ok: bool
    scope: PlanScope
    target_id: str
    name: str


class PlanProblem(BaseModel):
    """One problem of a plan file, with its line (null: the whole file)."""

    line: int | None
    where: str
    message: str


class PlanInvalidAnswer(BaseModel):
    """Why a plan file was refused: every problem found."""

    detail: str
    problems: list[PlanProblem]


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


@router.get("/api/plans", response_model=list[PlanView])
def list_plans(request: Request, admin: Admin) -> list[dict[str, Any]]:
    """Every active plan: zone plans, then unit overrides."""
    return plan_service.list_plans(request.app.state.uow_factory())


@router.post(
    "/api/plans/check", response_model=PlanChecked, responses={422: {"model": PlanInvalidAnswer}}
)
@accepts_body_up_to(PLAN_BODY_BYTES)
def check_plan(body: PlanBody, request: Request, admin: Admin) -> dict[str, Any] | JSONResponse:
    """Validate a plan file without activating it (422 lists every problem with its line)."""
    try:
        plan = plan_service.check_plan(request.app.state.uow_factory(), body.source)
    except PlanInvalid as exc:
        return _invalid(exc)
    return {"ok": True, "scope": plan.scope.value, "target_id": plan.target_id, "name": plan.name}


@router.put("/api/plans", response_model=PlanView, responses={422: {"model": PlanInvalidAnswer}})
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


@router.get(
    "/api/plans/example", response_class=Response, responses=file_answer("application/yaml")
)
def example_plan(admin: Admin) -> Response:
    """A commented example plan to start from."""
    return Response(plan_service.EXAMPLE_PLAN, media_type="application/yaml")


@router.get("/api/plans/{scope}/{target_id}", response_model=PlanWithSource)
def get_plan(scope: str, target_id: str, request: Request, admin: Admin) -> dict[str, Any]:
    """The active plan of a zone or unit, with its file."""
    return plan_service.get_plan(
        request.app.state.uow_factory(), plan_service.parse_scope(scope), target_id
    )


@router.get(
    "/api/plans/{scope}/{target_id}/export",
    response_class=Response,
    responses=file_answer("application/yaml", description="The plan file"),
)
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
