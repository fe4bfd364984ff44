"""`helppoint token create | list | revoke`: personal API tokens for scripts from the shell,
with the same rules as the account page and /api/tokens (docs/api-scripts.md). Whoever runs
the command has the database itself, so it acts as an administrator; the audit trail says
`cli` made or revoked the token, and whose it is."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

DbOption = Callable[[argparse.ArgumentParser], None]


def _uow_for(args: argparse.Namespace) -> Any:
    from helppoint.cli_context import command_settings, unit_of_work

    return unit_of_work(command_settings(args))


def cmd_token_create(args: argparse.Namespace) -> int:
    from helppoint.domain.errors import NotFound
    from helppoint.services.api_tokens import create_token
    from helppoint.services.operators import parse_role

    uow = _uow_for(args)
    with uow:
        owner = uow.operators.by_username(args.username)
    if owner is None:
        raise NotFound(f"no user {args.username!r} (see `helppoint user list`)")
    made = create_token(
        uow,
        owner,
        args.name,
        role=parse_role(args.role) if args.role else None,
        days=args.days,
        actor="cli",
    )
    if args.json:
        view = {"id": made.id, "name": made.name, "role": made.role.value, "token": made.token}
        print(json.dumps(view))
    else:
        print(
            f"token {made.id} ({made.name!r}) of {owner.username}, role {made.role.value}. "
            "The token (shown once; send it as `Authorization: Bearer …`):"
        )
        print(made.token)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    from helppoint.domain.errors import NotFound
    from helppoint.services.api_tokens import expires_text, token_owner_names, tokens_of
    from helppoint.services.clock import utcnow

    uow = _uow_for(args)
    owner = None
    if args.user:
        with uow:
            owner = uow.operators.by_username(args.user)
        if owner is None:
            raise NotFound(f"no user {args.user!r} (see `helppoint user list`)")
    tokens = tokens_of(uow, owner)
    names = token_owner_names(uow)
    now = utcnow()
    for token in tokens:
        used = (
            f"last used {token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never used"
        )
        print(
            f"{token.id:5} {token.hint}… {names.get(token.operator_id, '?'):16} "
            f"{token.role.value:11} {expires_text(token, now):18} {used:28} {token.name}"
        )
    if not tokens:
        print("no API tokens: make one with `helppoint token create USERNAME --name WHAT`")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from helppoint.services.api_tokens import revoke_any_token

    token = revoke_any_token(_uow_for(args), args.token_id, actor="cli")
    print(f"token {token.id} ({token.name!r}) revoked: it no longer works")
    return 0


def add_commands(sub: Any, db: DbOption) -> None:
    group = sub.add_parser(
        "token", help="personal API tokens for scripts (create, list, revoke)"
    ).add_subparsers(dest="token_command", metavar="ACTION", required=True)
    p = group.add_parser(
        "create",
        help="make an API token for a user and print it once",
        description="Make a personal API token acting as USERNAME, with their role or one "
        "with fewer rights (--role). The token is printed once; only its hash is stored. "
        "See docs/api-scripts.md.",
    )
    db(p)
    p.add_argument("username", help="whose token it is (it acts as this user)")
    p.add_argument("--name", required=True, help="what the token is for, e.g. 'reports'")
    p.add_argument("--role", help="the user's role (default) or one with fewer rights")
    p.add_argument("--days", type=int, help="expire after N days (default: until revoked)")
    p.add_argument("--json", action="store_true", help="print {id, name, role, token} as JSON")
    p.set_defaults(func=cmd_token_create)
    p = group.add_parser("list", help="list API tokens (never their secrets)")
    db(p)
    p.add_argument("--user", help="only this user's tokens")
    p.set_defaults(func=cmd_token_list)
    p = group.add_parser("revoke", help="revoke an API token by its id, at once")
    db(p)
    p.add_argument("token_id", type=int)
    p.set_defaults(func=cmd_token_revoke)
