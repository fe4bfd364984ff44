"""How the DC-09 receiver handles each category of event code: the admin's choices.

The categories, their priorities and which handlings each may have are domain rules
(`domain/sia_codes.py`); this stores an admin's choice per category, audited. The receiver
reads the choices with its accounts, so a change applies within seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from helppoint.domain.errors import InvalidInput
from helppoint.domain.model import AuditEntry
from helppoint.domain.sia_code_tables import CONTACT_ID, SIA_DC03
from helppoint.domain.sia_codes import (
    CATEGORIES,
    Category,
    Handling,
    HandlingNotAllowed,
    check_handling,
    contact_id_code,
    sia_code,
)
from helppoint.services.clock import utcnow
from helppoint.store.uow import UnitOfWork


@dataclass(frozen=True)
class CategoryHandling:
    """A category as the admin sees it: what it holds, and how it is handled now."""

    category: Category
    label: str
    #: The priority of the incident it opens when handled as one ("activation", "tamper",
    #: "fault"), or None for records, which open none.
    priority: str | None
    handling: Handling
    default: Handling
    allowed: tuple[Handling, ...]
    #: Who last changed it, and when (None: never changed, the default applies).
    changed_by: str | None
    changed_at: datetime | None
    #: The codes of the published tables in this category (Contact ID: as a new event).
    sia_codes: tuple[str, ...]
    contact_id_codes: tuple[str, ...]


def chosen_handlings(uow: UnitOfWork) -> dict[Category, Handling]:
    """The handlings an admin chose (categories left at their default are absent)."""
    chosen: dict[Category, Handling] = {}
    for choice in uow.sia_handling.choices():
        try:
            chosen[Category(choice.category)] = Handling(choice.handling)
        except ValueError:
            continue  # a category or handling this version does not know: the default
    return chosen


def _codes() -> dict[Category, tuple[list[str], list[str]]]:
    codes: dict[Category, tuple[list[str], list[str]]] = {c: ([], []) for c in Category}
    for code in SIA_DC03:
        codes[sia_code(code).category][0].append(code)
    for code in CONTACT_ID:
        codes[contact_id_code("1", code).category][1].append(code)
    return codes


def category_handlings(uow: UnitOfWork) -> list[CategoryHandling]:
    """Every category, in the domain's order, with its handling now."""
    rows = {row.category: row for row in uow.sia_handling.choices()}
    chosen = chosen_handlings(uow)
    codes = _codes()
    views = []
    for category, rule in CATEGORIES.items():
        row = rows.get(category.value)
        views.append(
            CategoryHandling(
                category=category,
                label=rule.label,
                priority=rule.priority.label if rule.priority is not None else None,
                handling=chosen.get(category, rule.default),
                default=rule.default,
                allowed=rule.allowed,
                changed_by=row.updated_by if row is not None else None,
                changed_at=row.updated_at if row is not None else None,
                sia_codes=tuple(codes[category][0]),
                contact_id_codes=tuple(codes[category][1]),
            )
        )
    return views


def set_handling(
    uow: UnitOfWork, category: str, handling: str, actor: str = "system"
) -> CategoryHandling:
    """Choose how a category is handled (the caller commits); InvalidInput if it may not be."""
    try:
        chosen_category = Category(category)
    except ValueError:
        names = ", ".join(c.value for c in Category)
        raise InvalidInput(f"no event code category {category!r}; one of {names}") from None
    try:
        chosen = Handling(handling)
    except ValueError:
        names = ", ".join(h.value for h in Handling)
        raise InvalidInput(f"no handling {handling!r}; one of {names}") from None
    try:
        check_handling(chosen_category, chosen)
    except HandlingNotAllowed as exc:
        raise InvalidInput(str(exc)) from None
    previous = chosen_handlings(uow).get(chosen_category, CATEGORIES[chosen_category].default)
    at = utcnow()
    uow.sia_handling.set_choice(chosen_category.value, chosen.value, at, actor)
    uow.audit.add(
        AuditEntry(
            at=at,
            actor=actor,
            action="sia.handling_set",
            detail={
                "category": chosen_category.value,
                "handling": chosen.value,
                "previous": previous.value,
            },
        )
    )
    uow.flush()
    [view] = [v for v in category_handlings(uow) if v.category is chosen_category]
    return view
