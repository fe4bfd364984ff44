"""Server log lines as JSON, one object per line (`log_format = "json"`), for a log shipper.

Each object has the time (UTC, ISO 8601), level, logger, process id, the message, and the
`unit_id` / `incident_id` it is about: given with `extra={"unit_id": …}`, or read from the
message's own wording ("unit %s …", "incident %s …"), so every existing log line that names
a unit or an incident carries it as a field without being rewritten.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

#: A %-placeholder of a log message.
_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")
#: The words before a placeholder that say what its value is.
_NAMED = {
    "unit": re.compile(r"\bunit\s+#?$", re.IGNORECASE),
    "incident": re.compile(r"\bincident\s+#?$", re.IGNORECASE),
}


def ids_in(message: Any, args: Any) -> dict[str, str]:
    """The unit and incident ids a %-style log call names, by the word before each value."""
    if not isinstance(message, str) or not isinstance(args, tuple) or not args:
        return {}
    found: dict[str, str] = {}
    index = 0
    for match in _PLACEHOLDER.finditer(message):
        if match.group() == "%%":
            continue
        if index >= len(args):
            break
        before = message[: match.start()]
        for name, pattern in _NAMED.items():
            if f"{name}_id" not in found and pattern.search(before):
                found[f"{name}_id"] = str(args[index])
        index += 1
    return found


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        entry.update(ids_in(record.msg, record.args))
        for name in ("unit_id", "incident_id"):
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # ensure_ascii: a lone surrogate in a message (from hostile input) stays valid JSON.
        return json.dumps(entry, ensure_ascii=True, default=str)


def uvicorn_log_config(level: str) -> dict[str, Any]:
    """A logging configuration (dictConfig) writing every logger, uvicorn's and ours, as JSON;
    uvicorn applies it in each of its worker processes too."""
    formatter = {"()": f"{__name__}.JsonFormatter"}
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": formatter},
        "handlers": {"json": handler},
        "root": {"handlers": ["json"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": True},
        },
    }


def use_json_logs(level: str) -> None:
    """Switch this process's logging to JSON lines now (before the server starts)."""
    import logging.config

    logging.config.dictConfig(uvicorn_log_config(level))
