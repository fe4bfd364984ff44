"""Commands the control room sends to a unit about an incident, and the unit's confirmations.

Light, camera preset and message commands sent from an incident are recorded before they go
out; the unit's ``command_result`` confirms (or refuses) each one. Both are written to the
incident's audit trail, so the incident shows what the unit was told and what it did.
"""

from __future__ import annotations

from typing import Any

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.model import IncidentState
from helppoint.services.clock import utcnow
from helppoint.services.incidents import record_change
from helppoint.services.views import iso
from helppoint.store.uow import UnitOfWork

#: Commands an operator may send from an incident.
INCIDENT_COMMANDS = frozenset({"flash_light", "camera_preset", "play_message"})
#: Who is named as the sender of commands the server sends by itself.
SYSTEM = "system"


def light_pattern(args: dict[str, Any]) -> str:
    """The light pattern a flash_light command asks for ("alarm", "steady" or "off")."""
    if not args.get("on", True):
        return "off"
    pattern = args.get("pattern", "alarm")
    return pattern if isinstance(pattern, str) else "alarm"


def check_command(command: str, args: dict[str, Any]) -> None:
    """InvalidInput unless the command and its arguments make sense."""
    if command not in INCIDENT_COMMANDS:
        raise InvalidInput(
            f"unknown command {command!r}; use one of {', '.join(sorted(INCIDENT_COMMANDS))}"
        )
    if command == "flash_light":
        on = args.get("on", True)
        if not isinstance(on, bool):
            raise InvalidInput("flash_light: 'on' must be true or false")
        if light_pattern(args) not in ("alarm", "steady", "off"):
            raise InvalidInput("flash_light: 'pattern' must be alarm or steady")
    elif command == "camera_preset":
        preset = args.get("preset")
        if not isinstance(preset, str) or not 0 < len(preset) <= 64:
            raise InvalidInput("camera_preset needs a preset name (1-64 characters)")
    else:
        message = args.get("message")
        if not isinstance(message, str) or not 0 < len(message) <= 64:
            raise InvalidInput("play_message needs a message name (1-64 characters)")


def record_sent(
    uow: UnitOfWork,
    command_id: str,
    incident_id: int,
    command: str,
    args: dict[str, Any],
    sent_by: str,
    address: str | None = None,
    *,
    require_open: bool = True,
) -> str:
    """Record a command about to be sent to the incident's unit; returns the unit id."""
    check_command(command, args)
    with uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        if require_open and incident.state is IncidentState.CLOSED:
            raise InvalidInput(f"incident {incident.ref} is closed; its unit takes no commands")
        uow.commands.add(
            {
                "id": command_id,
                "unit_id": incident.unit_id,
                "incident_id": incident_id,
                "command": command,
                "args": args,
                "sent_at": utcnow(),
                "sent_by": sent_by,
                "detail": "",
            }
        )
        record_change(
            uow, incident, sent_by, "unit.command_sent", address, command=command, args=args
        )
        uow.commit()
        return incident.unit_id


def record_result(uow: UnitOfWork, unit_id: str, command_id: str, ok: bool, detail: str) -> bool:
    """The unit answered a command: keep its answer. False if the command is not one of ours."""
    with uow:
        row = uow.commands.unanswered(command_id, unit_id)
        if row is None:
            return False
        uow.commands.answer(
            command_id, {"confirmed_at": utcnow(), "ok": ok, "detail": detail[:1000]}
        )
        incident = uow.incidents.get(row.incident_id) if row.incident_id is not None else None
        if incident is not None:
            record_change(
                uow,
                incident,
                unit_id,
                "unit.command_confirmed" if ok else "unit.command_failed",
                None,
                command=row.command,
                args=row.args,
                result=detail[:1000],
            )
        uow.commit()
        return True


def _view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "unit_id": row.unit_id,
        "command": row.command,
        "args": row.args,
        "sent_at": iso(row.sent_at),
        "sent_by": row.sent_by,
        "confirmed_at": iso(row.confirmed_at),
        "ok": row.ok,
        "detail": row.detail,
    }


def incident_commands(uow: UnitOfWork, incident_id: int) -> list[dict[str, Any]]:
    """The commands sent about an incident, oldest first (inside an open unit of work)."""
    return [_view(row) for row in uow.commands.of_incident(incident_id)]


def light_state(commands: list[dict[str, Any]]) -> dict[str, Any]:
    """What the unit's light shows, as far as the unit has confirmed.

    Until the control room changes it, the light flashes from the activation (the unit does
    that by itself). ``pending`` names a change sent but not confirmed yet.
    """
    state: dict[str, Any] = {"pattern": "alarm", "since": None, "confirmed": False}
    pending = None
    for command in commands:
        if command["command"] != "flash_light":
            continue
        if command["confirmed_at"] is None:
            pending = light_pattern(command["args"])
        elif command["ok"]:
            pending = None
            state = {
                "pattern": light_pattern(command["args"]),
                "since": command["confirmed_at"],
                "confirmed": True,
                "by": command["sent_by"],
            }
    state["pending"] = pending
    return state


def unit_has_other_open_incident(uow: UnitOfWork, unit_id: str, incident_id: int) -> bool:
    """Whether another incident of the unit is still open (then its light must keep going)."""
    with uow:
        return any(i.id != incident_id for i in uow.incidents.open_for_units([unit_id]))
