"""Club-mode account tables: per-member session state, sign-in throttles and the sign-in log.

Kept beside `users` rather than in it so the club features add tables without rewriting a shared model:

* ``member_security``: one row per member (created on first need). ``session_generation`` is embedded in
  every sign-in cookie; raising it (sign-out, password change or reset, disable) kills every cookie issued
  before, on every server. ``must_change_password`` is set by an admin's reset.
* ``login_throttles``: failed attempts per *typed* username, existing or not, so a lockout answers the same
  for a member and for a name nobody has (no way to probe which usernames exist).
* ``login_events``: what the admin sees: sign-ins, failures, lockouts, sign-outs, refused sessions. Never a
  password, and the typed name only when it is a real member's (a password typed into the username box
  must not end up in the log).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.store.models import Base, utcnow
from services.store.types import UtcDateTime


class MemberSecurity(Base):
    __tablename__ = "member_security"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    session_generation: Mapped[int] = mapped_column(Integer, default=1)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    password_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class LoginThrottle(Base):
    __tablename__ = "login_throttles"

    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class LoginEvent(Base):
    __tablename__ = "login_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    username: Mapped[str | None] = mapped_column(String(80))
    event: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(10), default="web")
