"""The audit trail in the browser: the auditor's page, its JSON API, export and verify."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from helppoint.domain.model import Operator, Permission
from helppoint.services import audit as audit_service
from helppoint.services.clock import utcnow
from helppoint.web.deps import client_address, require
from helppoint.web.forbidden import forbidden_page
from helppoint.web.rendering import page_context, signed_in_operator, templates

router = APIRouter(tags=["audit"])
AuditReader = Annotated[Operator, Depends(require(Permission.READ_AUDIT))]


class TrailEntry(BaseModel):
    """One entry of the audit trail with its place in the hash chain (docs/security.md)."""

    seq: int | None
    at: str
    actor: str
    action: str
    incident_id: int | None
    address: str | None
    detail: dict[str, Any]
    #: The previous entry's hash and this entry's: a changed entry breaks the chain.
    prev_hash: str
    hash: str


class TrailPage(BaseModel):
    """Audit entries, newest first, and how many match in all."""

    entries: list[TrailEntry]
    total: int


class TrailExport(BaseModel):
    """The JSON export: every matching entry, oldest first."""

    exported_at: str
    entries: list[TrailEntry]


class ChainProblem(BaseModel):
    """The first entry whose hash does not follow from the chain, and why."""

    entry_id: int | None
    seq: int | None
    reason: str


class ChainCheck(BaseModel):
    """The whole hash chain recomputed: ok, how many entries, the first problem."""

    ok: bool
    checked: int
    problem: ChainProblem | None


def _query(
    since: datetime | None,
    until: datetime | None,
    actor: str | None,
    action: str | None,
    limit: int | None = 200,
    offset: int = 0,
) -> audit_service.TrailQuery:
    return audit_service.TrailQuery(
        since=since,
        until=until,
        actor=actor or None,
        action=action or None,
        limit=limit,
        offset=offset,
    )


@router.get("/api/audit", response_model=TrailPage)
def read_trail(
    request: Request,
    reader: AuditReader,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Audit entries newest first, with their chain hashes (the read itself is audited)."""
    entries, total = audit_service.read_trail(
        request.app.state.uow_factory(),
        _query(since, until, actor, action, limit, offset),
        reader.username,
        client_address(request),
    )
    return {"entries": entries, "total": total}


@router.get(
    "/api/audit/export",
    response_class=Response,
    responses={
        200: {
            "description": "The entries as CSV (format=csv) or JSON (format=json)",
            "model": TrailExport,
            "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def export_trail(
    request: Request,
    reader: AuditReader,
    format: Literal["csv", "json"] = "csv",
    since: datetime | None = None,
    until: datetime | None = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Every matching entry, oldest first, as a CSV or JSON download."""
    text = audit_service.export_trail(
        request.app.state.uow_factory(),
        _query(since, until, actor, action),
        format,
        reader.username,
        client_address(request),
    )
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    media = "text/csv; charset=utf-8" if format == "csv" else "application/json"
    return Response(
        text,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.{format}"'},
    )


@router.get("/api/audit/verify", response_model=ChainCheck)
def verify_trail(request: Request, reader: AuditReader) -> dict[str, Any]:
    """Recompute the whole hash chain; `problem` names the first bad entry."""
    report = audit_service.verify(request.app.state.uow_factory())
    problem = report.problem
    return {
        "ok": report.ok,
        "checked": report.checked,
        "problem": None
        if problem is None
        else {"entry_id": problem.entry_id, "seq": problem.seq, "reason": problem.reason},
    }


@router.get("/audit", response_class=HTMLResponse, include_in_schema=False)
def audit_page(request: Request) -> Response:
    """The auditor's page: filter, read, verify and export the trail."""
    operator = signed_in_operator(request)
    if operator is None:
        return RedirectResponse("/login?next=/audit", status_code=303)
    if not operator.can(Permission.READ_AUDIT):
        return forbidden_page(request, operator, "Your role may not read the audit trail.")
    context = page_context(request, operator) | {"demo": False}
    return templates.TemplateResponse(request, "audit.html", context)
