"""What every `helppoint` subcommand shares: its settings, its database, its error.

The subcommands live in cli.py and in the cli_*.py modules, which cli.py imports to build its
parser: they import this module, never cli.py back.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from helppoint.config import Settings


class CommandError(Exception):
    """A CLI command cannot go on; the message says why."""


def command_settings(args: argparse.Namespace) -> Settings:
    """The settings (--config file, environment) with the command line's overrides."""
    settings = Settings.load(Path(args.config) if args.config else None)
    overrides: dict[str, Any] = {}
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    return settings.with_values(overrides) if overrides else settings


def unit_of_work(settings: Settings, migrate: bool = True) -> Any:
    """A unit of work on the settings' database, migrated first unless told not to."""
    from helppoint.store.database import make_engine, make_session_factory
    from helppoint.store.migrate import upgrade
    from helppoint.store.uow import UnitOfWork

    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    return UnitOfWork(make_session_factory(engine))
