"""Club administration: members, roles, passwords, and club-wide figures that reveal no member's items.

Used by the Admin page and by `python -m services users ...`. Rules kept here, in one place:
the club never loses its last active admin; a reset password is temporary (the member chooses a new one
at next sign-in); anything that changes who may sign in ends the member's sessions everywhere.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.accounts.passwords import hash_password, verify_password
from services.accounts.signin import EventKind, end_sessions, is_locked, record, security_row
from services.accounts.users import check_new_password, create_user, find_user
from services.errors import Conflict, InvalidInput, NotFound
from services.states import ROLES, JobStatus
from services.store.models import Item, Job, User, utcnow


@dataclass(frozen=True)
class MemberRow:
    id: int
    username: str
    role: str
    active: bool
    locked: bool
    must_change_password: bool
    created_at: datetime | None
    last_sign_in_at: datetime | None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id, "username": self.username, "role": self.role, "active": self.active,
            "locked": self.locked, "mustChangePassword": self.must_change_password,
            "createdAt": _iso(self.created_at), "lastSignInAt": _iso(self.last_sign_in_at),
        }  # fmt: skip


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat()


def member(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise NotFound(f"No member named {username!r}.", code="UNKNOWN_USER")
    return user


def _member_by_id(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such member.", code="UNKNOWN_USER")
    return user


def temporary_password() -> str:
    """A password an admin hands over once; the member must replace it at first sign-in."""
    return secrets.token_urlsafe(12)


def add_member(
    session: Session,
    username: str,
    password: str | None = None,
    *,
    admin: bool = False,
    currency: str = "EUR",
    channel: str = "web",
) -> tuple[User, str | None]:
    """Create a member. Without a password this is an invitation: a temporary password is returned (to show
    once) and must be changed at first sign-in."""
    temporary = password is None
    user = create_user(session, username, password or temporary_password(), admin=admin, currency=currency)
    shown = None
    if temporary:
        shown = temporary_password()
        user.password_hash = hash_password(shown)
    security = security_row(session, user.id)
    security.must_change_password = temporary
    record(session, EventKind.CREATED, user, channel=channel)
    session.flush()
    return user, shown


def list_members(session: Session) -> list[MemberRow]:
    users = list(session.scalars(select(User).order_by(User.username)))
    rows = []
    for user in users:
        security = security_row(session, user.id)
        rows.append(
            MemberRow(
                user.id, user.username, "admin" if user.is_admin else "member", user.active,
                is_locked(session, user.username), security.must_change_password, user.created_at,
                security.last_sign_in_at,
            )
        )  # fmt: skip
    return rows


def _other_active_admins(session: Session, user_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.is_admin.is_(True), User.active.is_(True), User.id != user_id)
        )
        or 0
    )


def _keep_an_admin(session: Session, user: User) -> None:
    if user.is_admin and user.active and _other_active_admins(session, user.id) == 0:
        raise Conflict(f"{user.username} is the last admin; make another member admin first.", code="LAST_ADMIN")


def set_active(session: Session, user_id: int, active: bool, *, channel: str = "web") -> User:
    """Disable (signed out everywhere at their next click) or enable a member."""
    user = _member_by_id(session, user_id)
    if not active:
        _keep_an_admin(session, user)
        end_sessions(session, user.id)
    user.active = active
    record(session, EventKind.ENABLED if active else EventKind.DISABLED, user, channel=channel)
    session.flush()
    return user


def set_role(session: Session, user_id: int, role: str, *, channel: str = "web") -> User:
    if role not in ROLES:
        raise InvalidInput(f"A role is one of {', '.join(ROLES)}.", code="INVALID_ROLE")
    user = _member_by_id(session, user_id)
    if role == "member":
        _keep_an_admin(session, user)
    user.is_admin = role == "admin"
    record(session, EventKind.ROLE_CHANGED, user, channel=channel)
    session.flush()
    return user


def set_password(
    session: Session, user_id: int, password: str | None = None, *, temporary: bool = False, channel: str = "web"
) -> str | None:
    """An admin's (or the operator's) password reset. Without a password a temporary one is generated and
    returned (to hand over once); a temporary password must be changed at next sign-in. Every session of
    the member ends."""
    user = _member_by_id(session, user_id)
    if password is None:
        password, temporary = temporary_password(), True
        shown: str | None = password
    else:
        check_new_password(password)
        shown = None
    user.password_hash = hash_password(password)
    security = security_row(session, user.id)
    security.must_change_password = temporary
    security.password_changed_at = utcnow()
    end_sessions(session, user.id)
    record(session, EventKind.PASSWORD_RESET, user, channel=channel)
    session.flush()
    return shown


def change_own_password(session: Session, user_id: int, current: str | None, new: str) -> int:
    """A member chooses a new password. `current` is required unless the member must change a temporary one
    right after signing in with it. Returns the new session generation (every other session ends)."""
    user = _member_by_id(session, user_id)
    security = security_row(session, user.id)
    if not security.must_change_password and not verify_password(current or "", user.password_hash):
        raise InvalidInput("Your current password is not right.", code="WRONG_PASSWORD")
    check_new_password(new)
    if verify_password(new, user.password_hash):
        raise InvalidInput("Choose a password different from the current one.", code="WEAK_PASSWORD")
    user.password_hash = hash_password(new)
    security.must_change_password = False
    security.password_changed_at = utcnow()
    generation = end_sessions(session, user.id)
    record(session, EventKind.PASSWORD_CHANGED, user)
    session.flush()
    return generation


@dataclass(frozen=True)
class ClubFigures:
    """Totals across the club. Only sums and counts: nothing here names a member's item."""

    members: int
    active_members: int
    admins: int
    items_by_kind: dict[str, int]
    total_value: float
    currency: str
    jobs_running: int
    numista_calls_this_month: int


def club_figures(session: Session, currency: str = "EUR") -> ClubFigures:
    from services.pricing import club_value
    from services.store.models_numista import NumistaQuotaUsage

    users = list(session.scalars(select(User)))
    items = dict(
        session.execute(select(Item.kind, func.coalesce(func.sum(Item.quantity), 0)).group_by(Item.kind)).all()
    )
    total = club_value(session, currency)
    running = Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING))
    jobs_running = session.scalar(select(func.count()).select_from(Job).where(running))
    month = utcnow().strftime("%Y-%m")
    calls = session.scalar(
        select(func.coalesce(func.sum(NumistaQuotaUsage.calls), 0)).where(NumistaQuotaUsage.month == month)
    )
    return ClubFigures(
        members=len(users), active_members=sum(u.active for u in users), admins=sum(u.is_admin for u in users),
        items_by_kind={kind: int(count) for kind, count in items.items()}, total_value=float(round(total, 2)),
        currency=currency, jobs_running=int(jobs_running or 0), numista_calls_this_month=int(calls or 0),
    )  # fmt: skip
