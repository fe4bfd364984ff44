"""The DC-09 event code categories over JSON: how each is handled, and which codes it holds.

For supervisors (read) and admins (change). The admin pages are built on these; the receiver
applies a change within ten seconds (it reads the choices with its accounts). Rules and
defaults: domain/sia_codes.py; docs/sia-dc09.md.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from helppoint.domain.model import Operator, Permission
from helppoint.domain.sia_code_tables import CONTACT_ID, SIA_DC03
from helppoint.domain.sia_codes import Category, Handling, contact_id_code, sia_code
from helppoint.services import sia_handling
from helppoint.store.uow import UnitOfWork
from helppoint.web.deps import HistoryReader, require

router = APIRouter(tags=["SIA DC-09"])
Admin = Annotated[Operator, Depends(require(Permission.ADMINISTER))]


class SiaCategory(BaseModel):
    """One category of event codes and how the receiver handles it."""

    category: Category
    label: str = Field(description="what the category holds")
    priority: Literal["activation", "tamper", "fault"] | None = Field(
        description="the priority of the incident it opens when handled as one; null for "
        "records (openings, restorals …), which can only be logged"
    )
    handling: Handling = Field(description="how its events are handled now")
    default_handling: Handling
    allowed_handlings: list[Handling]
    changed_by: str | None = Field(description="who chose the handling; null: the default")
    changed_at: datetime | None
    sia_codes: list[str] = Field(description="its SIA DC-03 codes (published table)")
    contact_id_codes: list[str] = Field(
        description="its Contact ID codes as new events (qualifier 1; 3 restores an alarm)"
    )

    @classmethod
    def of(cls, view: sia_handling.CategoryHandling) -> SiaCategory:
        return cls(
            category=view.category,
            label=view.label,
            priority=view.priority,
            handling=view.handling,
            default_handling=view.default,
            allowed_handlings=list(view.allowed),
            changed_by=view.changed_by,
            changed_at=view.changed_at,
            sia_codes=list(view.sia_codes),
            contact_id_codes=list(view.contact_id_codes),
        )


class HandlingChoice(BaseModel):
    """How a category's events are to be handled."""

    handling: Handling


class SiaCode(BaseModel):
    """One code of the published tables and the category it falls into."""

    table: Literal["sia_dc03", "contact_id"]
    code: str
    text: str
    category: Category


def _factory(request: Request) -> Callable[[], UnitOfWork]:
    factory: Callable[[], UnitOfWork] = request.app.state.uow_factory
    return factory


@router.get("/api/sia/categories", response_model=list[SiaCategory])
def list_categories(request: Request, reader: HistoryReader) -> list[SiaCategory]:
    """Every category of event codes, with its handling now."""
    with _factory(request)() as uow:
        return [SiaCategory.of(view) for view in sia_handling.category_handlings(uow)]


@router.put("/api/sia/categories/{category}", response_model=SiaCategory)
def choose_handling(
    category: str, choice: HandlingChoice, request: Request, admin: Admin
) -> SiaCategory:
    """Set how a category's events are handled (400 if the category may not have it)."""
    if category not in Category.__members__.values():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no event code category {category!r}")
    with _factory(request)() as uow:
        view = sia_handling.set_handling(uow, category, choice.handling, actor=admin.username)
        uow.commit()
    return SiaCategory.of(view)


@router.get("/api/sia/codes", response_model=list[SiaCode])
def list_codes(
    reader: HistoryReader, category: Annotated[Category | None, Query()] = None
) -> list[SiaCode]:
    """Every code of the published tables (optionally of one category)."""
    codes = [
        SiaCode(table="sia_dc03", code=code, text=name, category=sia_code(code).category)
        for code, (name, _) in SIA_DC03.items()
    ] + [
        SiaCode(
            table="contact_id", code=code, text=text, category=contact_id_code("1", code).category
        )
        for code, (text, _) in CONTACT_ID.items()
    ]
    return [c for c in codes if category is None or c.category is category]
