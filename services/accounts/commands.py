"""`python -m services users add|list|disable|enable|passwd|role`: the operator's commands (named in
services/cli_parsers.py).

Whoever can run these already holds the database, so they act as the operator, not as a member: no --user
is needed, in club mode too (the README's first step creates the first admin this way). Passwords are read
from the first line of standard input, never from the command line (shell history, `ps`).
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.orm import Session

from services.accounts import members
from services.accounts.signin import security_row
from services.context import AppContext, CommandResult
from services.errors import InvalidInput

EXIT_OK = 0


def _password_from_stdin() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InvalidInput("Give the password on the first line of standard input.", code="PASSWORD_REQUIRED")
    return password


def cmd_users_add(context: AppContext, session: Session, _actor: None, args: argparse.Namespace) -> CommandResult:
    user, _shown = members.add_member(
        session, args.name, _password_from_stdin(), admin=args.admin, currency=context.settings.currency,
        channel="cli",
    )  # fmt: skip
    if args.temporary:
        security_row(session, user.id).must_change_password = True
    document = {"id": user.id, "username": user.username, "admin": user.is_admin}
    return document, f"Created user {user.username}{' (admin)' if user.is_admin else ''}.", EXIT_OK


def cmd_users_list(_context: AppContext, session: Session, _actor: None, _args: argparse.Namespace) -> CommandResult:
    rows = members.list_members(session)
    lines = [_member_line(row) for row in rows]
    lines.append(f"{len(rows)} member(s)")
    return [row.to_json() for row in rows], "\n".join(lines), EXIT_OK


def _member_line(row: members.MemberRow) -> str:
    flags = [row.role, "active" if row.active else "disabled"]
    flags += ["locked"] * row.locked + ["must change password"] * row.must_change_password
    seen = f"last sign-in {row.last_sign_in_at:%Y-%m-%d %H:%M}" if row.last_sign_in_at else "never signed in"
    return f"{row.username:<20} {', '.join(flags):<40} {seen}"


def cmd_users_active(_context: AppContext, session: Session, _actor: None, args: argparse.Namespace) -> CommandResult:
    user = members.set_active(session, members.member(session, args.name).id, args.active, channel="cli")
    state = "enabled" if user.active else "disabled (signed out everywhere)"
    return {"username": user.username, "active": user.active}, f"{user.username} {state}.", EXIT_OK


def cmd_users_passwd(_context: AppContext, session: Session, _actor: None, args: argparse.Namespace) -> CommandResult:
    user = members.member(session, args.name)
    members.set_password(session, user.id, _password_from_stdin(), temporary=args.temporary, channel="cli")
    note = "; they must choose a new one at sign-in" if args.temporary else ""
    return (
        {"username": user.username, "mustChangePassword": args.temporary},
        f"Password of {user.username} set (signed out everywhere){note}.",
        EXIT_OK,
    )


def cmd_users_role(_context: AppContext, session: Session, _actor: None, args: argparse.Namespace) -> CommandResult:
    user = members.set_role(session, members.member(session, args.name).id, args.role, channel="cli")
    role = "admin" if user.is_admin else "member"
    return {"username": user.username, "role": role}, f"{user.username} is now {role}.", EXIT_OK
