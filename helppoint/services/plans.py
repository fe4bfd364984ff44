"""Trigger plan use cases: check, import, export, list, delete, and the plan for a unit."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.model import AuditEntry, HelpPoint
from helppoint.domain.plans import (
    PlanInvalid,
    PlanProblem,
    PlanScope,
    StoredPlan,
    TriggerPlan,
)
from helppoint.services.clock import utcnow
from helppoint.services.plan_yaml import read_plan, read_plan_located
from helppoint.services.views import iso
from helppoint.store.uow import UnitOfWork


@dataclass(frozen=True)
class ActivePlan:
    """The plan in force for a unit: its stored record and the parsed plan."""

    stored: StoredPlan
    plan: TriggerPlan


def parse_scope(value: str) -> PlanScope:
    """The PlanScope for 'zone' or 'unit', with a clear error otherwise."""
    try:
        return PlanScope(value)
    except ValueError:
        raise InvalidInput(f"unknown plan scope {value!r}; use zone or unit") from None


def _check(uow: UnitOfWork, text: str) -> TriggerPlan:
    plan, locate = read_plan_located(text)
    exists = (
        uow.zones.get(plan.target_id) is not None
        if plan.scope is PlanScope.ZONE
        else uow.units.get(plan.target_id) is not None
    )
    if not exists:
        key = plan.scope.value
        raise PlanInvalid(
            [PlanProblem(locate((key,)), key, f"there is no {key} {plan.target_id!r}")]
        )
    return plan


def check_plan(uow: UnitOfWork, text: str) -> TriggerPlan:
    """Validate a plan file without activating it; PlanInvalid lists every problem."""
    with uow:
        return _check(uow, text)


def import_plan(
    uow: UnitOfWork, text: str, actor: str, address: str | None = None
) -> dict[str, Any]:
    """Validate a plan file and, only if it is valid, make it the active plan of its target."""
    with uow:
        plan = _check(uow, text)
        now = utcnow()
        stored = uow.plans.get_for_update(plan.scope, plan.target_id)
        if stored is None:
            stored = StoredPlan(plan.scope, plan.target_id, plan.name, text, now, actor)
            uow.plans.add(stored)
        else:
            stored.name, stored.source = plan.name, text
            stored.updated_at, stored.updated_by = now, actor
            stored.version += 1
        uow.audit.add(
            AuditEntry(
                at=now,
                actor=actor,
                action="plan.imported",
                address=address,
                detail={
                    "scope": plan.scope.value,
                    "target": plan.target_id,
                    "name": plan.name,
                    "version": stored.version,
                    "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                },
            )
        )
        uow.flush()
        view = plan_view(stored, plan)
        uow.commit()
        return view


def _get(uow: UnitOfWork, scope: PlanScope, target_id: str) -> StoredPlan:
    stored = uow.plans.get(scope, target_id)
    if stored is None:
        raise NotFound(f"{scope.value} {target_id!r} has no trigger plan")
    return stored


def export_plan(uow: UnitOfWork, scope: PlanScope, target_id: str) -> str:
    """The active plan's file, exactly as it was imported (comments included)."""
    with uow:
        return _get(uow, scope, target_id).source


def get_plan(uow: UnitOfWork, scope: PlanScope, target_id: str) -> dict[str, Any]:
    """The active plan of a zone or unit, with its file."""
    with uow:
        stored = _get(uow, scope, target_id)
        return plan_view(stored, read_plan(stored.source)) | {"source": stored.source}


def list_plans(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every active plan: zone plans, then unit overrides."""
    with uow:
        return [plan_view(s, read_plan(s.source)) for s in uow.plans.list()]


def delete_plan(
    uow: UnitOfWork, scope: PlanScope, target_id: str, actor: str, address: str | None = None
) -> None:
    """Remove a plan (a unit then follows its zone's plan again)."""
    with uow:
        stored = _get(uow, scope, target_id)
        uow.plans.delete(stored)
        uow.audit.add(
            AuditEntry(
                at=utcnow(),
                actor=actor,
                action="plan.deleted",
                address=address,
                detail={"scope": scope.value, "target": target_id, "version": stored.version},
            )
        )
        uow.commit()


def active_plan(uow: UnitOfWork, unit: HelpPoint) -> ActivePlan | None:
    """The plan in force for a unit (its own override, else its zone's), in the caller's
    transaction."""
    stored = uow.plans.get(PlanScope.UNIT, unit.id) or uow.plans.get(PlanScope.ZONE, unit.zone_id)
    if stored is None:
        return None
    return ActivePlan(stored, read_plan(stored.source))


def plan_view(stored: StoredPlan, plan: TriggerPlan) -> dict[str, Any]:
    """A plan for the admin page and the API."""
    return {
        "scope": stored.scope.value,
        "target_id": stored.target_id,
        "name": stored.name,
        "version": stored.version,
        "updated_at": iso(stored.updated_at),
        "updated_by": stored.updated_by,
        "timezone": plan.timezone,
        "police": {"urn": plan.police.urn, "phone": plan.police.phone} if plan.police else None,
        "windows": sorted(plan.windows),
        "rules": [
            {
                "when": sorted(c.value for c in rule.classifications),
                "window": rule.window,
                "actions": [
                    {
                        "notify": a.kind.value,
                        "channel": a.channel.value,
                        "to": a.target,
                        "template": a.template,
                        "ack_within": int(a.ack_within.total_seconds()) if a.ack_within else None,
                    }
                    for a in rule.actions
                ],
            }
            for rule in plan.rules
        ],
    }


#: A starting point for a new plan, shown in the admin page's editor.
EXAMPLE_PLAN = """\
# A trigger plan: what the control room does for each classification.
# See docs/trigger-plans.md for every key.
plan: Town centre trigger plan
zone: town-centre            # or `unit: HP-01` to override one unit's zone plan
timezone: Europe/London
police:
  urn: NP-0000-0000          # the scheme's police unique reference number
  phone: "101"
windows:
  night-time-economy:
    days: [fri, sat]
    from: "20:00"
    to: "04:00"
rules:
  - when: imminent_threat
    actions:
      - notify: police
        channel: webhook
        to: https://cad.police.example/helppoint
        template: "{classification} at help point {unit_name} ({ref}), URN {police_urn}"
        ack_within: 60
      - notify: supervisor
        channel: console
        template: "{ref}: police notified"
  - when: [concern, medical]
    window: night-time-economy
    actions:
      - notify: site_security
        channel: email
        to: security@bid.example
        template: "{ref}: {classification} at {unit_name}"
        ack_within: 300
  - when: medical
    actions:
      - notify: ambulance
        channel: phone
        to: "999"
        template: "Ambulance to {unit_name} ({latitude}, {longitude}), {ref}"
"""


def _demo_plan(zone: str, name: str) -> str:
    # Console alerts and telephone actions only: the demo sends nothing off the machine.
    return f"""\
plan: {name} (demo)
zone: {zone}
police:
  urn: NP-DEMO-0001
  phone: "101"
windows:
  night-time-economy:
    days: [fri, sat]
    from: "20:00"
    to: "04:00"
rules:
  - when: imminent_threat
    actions:
      - notify: police
        channel: phone
        to: "999"
        template: "Imminent threat at help point {{unit_name}} ({{ref}}), URN {{police_urn}}"
      - notify: supervisor
        channel: console
        template: "{{ref}}: imminent threat at {{unit_name}}, police called"
        ack_within: 60
  - when: medical
    actions:
      - notify: ambulance
        channel: phone
        to: "999"
        template: "Ambulance to {{unit_name}} ({{latitude}}, {{longitude}}), {{ref}}"
  - when: [concern]
    window: night-time-economy
    actions:
      - notify: site_security
        channel: phone
        to: "01604 000000"
        template: "{{ref}}: please attend {{unit_name}}"
"""


def ensure_demo_plans(uow_factory: Any) -> None:
    """Give each demo zone a plan (for `helppoint demo`), keeping any plan already there."""
    for zone, name in (("racecourse", "Racecourse path"), ("town-centre", "Town centre")):
        uow = uow_factory()
        with uow:
            exists = uow.plans.get(PlanScope.ZONE, zone) is not None
        if not exists:
            import_plan(uow_factory(), _demo_plan(zone, name), "demo")
