"""`tokens create [--name LABEL] | tokens list | tokens revoke ID` (named in services/cli_parsers.py).

Handlers follow the cli.py contract ``(context, session, actor, args) -> (document, summary, exit status)``.
"""

from __future__ import annotations

import argparse

from sqlalchemy.orm import Session

from services.api.tokens import create_token, list_tokens, revoke_token
from services.context import AppContext, CommandResult
from services.store.models import User

EXIT_OK = 0


def cmd_tokens_create(_context: AppContext, session: Session, actor: User, args: argparse.Namespace) -> CommandResult:
    token = create_token(session, actor.id, args.name)
    summary = (
        f"Created API token {token.id} ({token.name}) for {actor.username}:\n{token.token}\n"
        "Copy it now: it is not shown again. Send it as 'Authorization: Bearer <token>'."
    )
    return token.to_json(), summary, EXIT_OK


def cmd_tokens_list(_context: AppContext, session: Session, actor: User, _args: argparse.Namespace) -> CommandResult:
    tokens = list_tokens(session, actor.id)
    lines = [
        f"{t.id:>5}  {t.name:<30} {t.prefix}…  created {t.created_at:%Y-%m-%d}"
        f"  last used {t.last_used_at:%Y-%m-%d %H:%M}"
        if t.last_used_at
        else f"{t.id:>5}  {t.name:<30} {t.prefix}…  created {t.created_at:%Y-%m-%d}  never used"
        for t in tokens
    ]
    lines.append(f"{len(tokens)} active token(s)")
    return [t.to_json() for t in tokens], "\n".join(lines), EXIT_OK


def cmd_tokens_revoke(_context: AppContext, session: Session, actor: User, args: argparse.Namespace) -> CommandResult:
    revoke_token(session, actor.id, args.token_id)
    return {"id": args.token_id, "revoked": True}, f"Revoked API token {args.token_id}.", EXIT_OK
