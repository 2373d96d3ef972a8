"""Club sign-in: password check with lockout, server-side session generations, and the sign-in log.

Why each rule:

* Every attempt costs one scrypt, whether the name exists, the account is locked or disabled, so neither the
  answer nor its timing tells a stranger which usernames exist.
* Lockout counts failures per *typed* name (existing or not): after ``MAX_FAILURES`` wrong passwords within
  ``LOCKOUT``, that name is refused for ``LOCKOUT`` even with the right password. A lock held in the database
  holds on every server.
* A sign-in cookie carries the member's ``session_generation``. Sign-out, a password change or reset and
  disabling the member raise it, so every cookie issued before (copied, stolen, left in another browser) is
  refused on the next rerun of any server: :func:`check_session` runs on every rerun.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.accounts.passwords import verify_password
from services.accounts.users import find_user
from services.store.models import User, utcnow
from services.store.models_accounts_club import LoginEvent, LoginThrottle, MemberSecurity

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)


class Outcome(StrEnum):
    SIGNED_IN = "signed_in"
    WRONG = "wrong"
    LOCKED = "locked"


class EventKind(StrEnum):
    SIGNED_IN = "signed_in"
    WRONG_PASSWORD = "wrong_password"
    DISABLED_REFUSED = "disabled_refused"
    LOCKED_OUT = "locked_out"
    LOCKED_REFUSED = "locked_refused"
    SIGNED_OUT = "signed_out"
    SESSION_REFUSED = "session_refused"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    DISABLED = "disabled"
    ENABLED = "enabled"
    ROLE_CHANGED = "role_changed"
    CREATED = "created"


@dataclass(frozen=True)
class Member:
    """A signed-in member as pages need them, re-read from the database on every rerun."""

    id: int
    username: str
    is_admin: bool
    currency: str
    generation: int
    must_change_password: bool


@dataclass(frozen=True)
class SignInResult:
    outcome: Outcome
    member: Member | None = None

    @property
    def message(self) -> str:
        """The one answer a person sees; identical for unknown names, wrong passwords and disabled members."""
        if self.outcome is Outcome.LOCKED:
            minutes = int(LOCKOUT.total_seconds() // 60)
            return f"Too many failed sign-ins for this name. Try again in {minutes} minutes."
        if self.outcome is Outcome.WRONG:
            return "Wrong username or password."
        return ""


def security_row(session: Session, user_id: int, *, for_update: bool = False) -> MemberSecurity:
    """The member's security row, created on first need (members created before club mode have none)."""
    row = session.get(MemberSecurity, user_id, with_for_update=for_update or None)
    if row is None:
        row = MemberSecurity(user_id=user_id, session_generation=1, must_change_password=False)
        session.add(row)
        session.flush()
    return row


def record(
    session: Session, event: EventKind, user: User | None = None, *, channel: str = "web", at: datetime | None = None
) -> None:
    """One line of the sign-in log. Only a real member's name is kept, never what a stranger typed."""
    session.add(
        LoginEvent(
            at=at or utcnow(), user_id=user.id if user else None, username=user.username if user else None,
            event=event.value, channel=channel,
        )
    )  # fmt: skip


def _member(user: User, security: MemberSecurity) -> Member:
    return Member(
        user.id, user.username, user.is_admin, user.currency, security.session_generation,
        security.must_change_password,
    )  # fmt: skip


def _throttle(session: Session, key: str) -> LoginThrottle:
    """The throttle row of a typed name, locked for update, inserted race-free by two servers at once."""
    row = session.get(LoginThrottle, key, with_for_update=True)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            session.add(LoginThrottle(username=key, failures=0))
    except IntegrityError:
        pass  # another server inserted it first; read theirs
    return session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)  # type: ignore[return-value]


def sign_in(
    session: Session, typed_name: str, password: str, *, channel: str = "web", now: datetime | None = None
) -> SignInResult:
    """Check a typed name and password; count failures and lock per typed name; log the attempt."""
    now = now or utcnow()
    key = typed_name.strip().lower()[:80]
    user = find_user(session, key) if key else None
    password_ok = verify_password(password, user.password_hash if user else None)  # always one scrypt
    throttle = _throttle(session, key)
    locked_until = throttle.locked_until
    if locked_until is not None and locked_until > now:
        record(session, EventKind.LOCKED_REFUSED, user, channel=channel, at=now)
        return SignInResult(Outcome.LOCKED)
    if password_ok and user is not None and user.active:
        session.delete(throttle)
        security = security_row(session, user.id)
        security.last_sign_in_at = now
        record(session, EventKind.SIGNED_IN, user, channel=channel, at=now)
        session.flush()
        return SignInResult(Outcome.SIGNED_IN, _member(user, security))
    last_failure = throttle.last_failure_at
    if last_failure is None or now - last_failure > LOCKOUT or locked_until is not None:
        throttle.failures = 0  # an old streak, or a lock that has run out, starts over
        throttle.locked_until = None
    throttle.failures += 1
    throttle.last_failure_at = now
    if throttle.failures >= MAX_FAILURES:
        throttle.locked_until = now + LOCKOUT
        record(session, EventKind.LOCKED_OUT, user, channel=channel, at=now)
        session.flush()
        return SignInResult(Outcome.LOCKED)
    wrong = EventKind.DISABLED_REFUSED if password_ok and user is not None else EventKind.WRONG_PASSWORD
    record(session, wrong, user, channel=channel, at=now)
    _forget_old_throttles(session, now)
    session.flush()
    return SignInResult(Outcome.WRONG)


def _forget_old_throttles(session: Session, now: datetime) -> None:
    """Names tried once and never again do not pile up (strangers may type anything)."""
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.last_failure_at < now - 2 * LOCKOUT, LoginThrottle.locked_until.is_(None)
        )
    )


def check_session(session: Session, user_id: int, generation: int) -> Member | None:
    """The member behind a session or cookie, or None when they were disabled, deleted, signed out or changed
    password since it was issued. Runs on every rerun, so a refusal takes effect on the member's next click."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    security = security_row(session, user.id)
    if security.session_generation != generation:
        return None
    return _member(user, security)


def end_sessions(session: Session, user_id: int) -> int:
    """Invalidate every session and cookie of the member (all browsers, all servers); the new generation."""
    security = security_row(session, user_id, for_update=True)
    security.session_generation += 1
    session.flush()
    return security.session_generation


def sign_out(session: Session, user_id: int, *, channel: str = "web") -> None:
    end_sessions(session, user_id)
    record(session, EventKind.SIGNED_OUT, session.get(User, user_id), channel=channel)


def refuse_session(session: Session, user_id: int | None) -> None:
    """Log a refused cookie or session (stale generation, disabled or deleted member)."""
    user = session.get(User, user_id) if user_id is not None else None
    record(session, EventKind.SESSION_REFUSED, user)


@dataclass(frozen=True)
class LoginEventRow:
    at: datetime
    username: str | None
    event: str
    channel: str


def recent_events(session: Session, limit: int = 200) -> list[LoginEventRow]:
    """The sign-in log for the admin page, newest first."""
    rows = session.execute(
        select(LoginEvent.at, LoginEvent.username, LoginEvent.event, LoginEvent.channel)
        .order_by(LoginEvent.id.desc())
        .limit(limit)
    ).all()
    return [LoginEventRow(at, name, event, channel) for at, name, event, channel in rows]


def is_locked(session: Session, username: str, now: datetime | None = None) -> bool:
    row = session.get(LoginThrottle, username.strip().lower())
    locked_until = row.locked_until if row else None
    return locked_until is not None and locked_until > (now or utcnow())
