"""The unit's command line: `helppoint-agent` when the agent is installed alone
(packaging/agent, docs/agent.md), and `helppoint agent` in the server's package.

One home for the agent's options and how they combine with its config file and environment:
the config file, then HELPPOINT_AGENT_* variables, then the options given here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from helppoint.agent.settings import AgentConfigError, AgentSettings

DESCRIPTION = (
    "Run on the unit: button and light through GPIO, local actions at once on a press, a local "
    "outbox, and the device link to the server. See docs/agent.md."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The agent's options, on `helppoint agent` and `helppoint-agent` alike."""
    parser.add_argument(
        "--config",
        "--config-file",
        dest="config_file",
        help="agent TOML file (see docs/agent.md); --config-file is the older spelling",
    )
    parser.add_argument("--server", help="ws://host:port/device/v1")
    parser.add_argument("--unit", help="unit id")
    parser.add_argument("--key", help="unit key (prefer the config file or HELPPOINT_AGENT_KEY)")
    parser.add_argument("--outbox", help="path of the local outbox database")
    parser.add_argument(
        "--hold-time", type=float, help="seconds the button must be held (0 = press)"
    )
    parser.add_argument("--mock-pins", action="store_true", help="simulated GPIO (no hardware)")


def settings_from(args: argparse.Namespace, config_file: str | None) -> AgentSettings:
    """The agent's settings from its config file, the environment and these options
    (AgentConfigError when they are incomplete or wrong)."""
    overrides = {
        key: value
        for key, value in {
            "server_url": args.server,
            "unit_id": args.unit,
            "key": args.key,
            "outbox_path": args.outbox,
            "hold_time": args.hold_time,
            "mock_pins": True if args.mock_pins else None,
        }.items()
        if value is not None
    }
    settings = AgentSettings.from_toml(Path(config_file)) if config_file else None
    return AgentSettings.from_env(base=settings).replace(**overrides)


def main(argv: Sequence[str] | None = None) -> int:
    """`helppoint-agent [options]`: run the agent until SIGINT/SIGTERM."""
    from helppoint.agent.runner import run_agent  # aiortc and PyAV: not for --help

    parser = argparse.ArgumentParser(prog="helppoint-agent", description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        settings = settings_from(args, args.config_file)
    except AgentConfigError as exc:
        parser.exit(2, f"helppoint-agent: error: {exc}\n")
    return run_agent(settings)


if __name__ == "__main__":
    sys.exit(main())
