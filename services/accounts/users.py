"""Users of the instance. Local mode has one implicit owner; club mode has logins and an admin role."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.accounts.passwords import hash_password, verify_password
from services.errors import Conflict, InvalidInput, NotFound
from services.exchange_rates import validate_display_currency
from services.store.models import User

LOCAL_USERNAME = "local"
_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")
MIN_PASSWORD_LENGTH = 8


def create_user(
    session: Session, username: str, password: str | None, *, admin: bool = False, currency: str = "EUR"
) -> User:
    if not _USERNAME.match(username):
        raise InvalidInput("A username is 1-80 letters, digits, '.', '_' or '-'.", code="INVALID_USERNAME")
    if password is not None:
        check_new_password(password)
    if find_user(session, username) is not None:
        raise Conflict(f"User {username!r} already exists.", code="USER_EXISTS")
    user = User(
        username=username,
        display_name=username,
        password_hash=hash_password(password) if password else None,
        is_admin=admin,
        currency=validate_display_currency(currency),  # VITRINE_CURRENCY too: never a currency without a rate
    )
    session.add(user)
    session.flush()
    return user


def check_new_password(password: str) -> None:
    """The one rule for a new password (CLI, admin page, own change). Surrounding spaces are refused because
    the sign-in form strips them, and a password that could never be typed back would lock its member out."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters.", code="WEAK_PASSWORD"
        )
    if password != password.strip():
        raise InvalidInput("A password cannot start or end with a space.", code="WEAK_PASSWORD")


def get_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def find_user(session: Session, typed: str) -> User | None:
    """The user whose name matches what was typed, ignoring case (the sign-in form lowercases names)."""
    return session.scalar(select(User).where(func.lower(User.username) == typed.strip().lower()))


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def ensure_local_user(session: Session, currency: str = "EUR") -> User:
    """The implicit owner of a local (single-user) instance, created on first use."""
    user = get_user(session, LOCAL_USERNAME)
    if user is None:
        user = create_user(session, LOCAL_USERNAME, None, admin=True, currency=currency)
    return user


def resolve_user(session: Session, username: str | None, *, club_mode: bool, currency: str = "EUR") -> User:
    """The acting user for a command: the named one, or the local owner outside club mode."""
    if not username or (username == LOCAL_USERNAME and not club_mode):
        if club_mode:
            raise InvalidInput("In club mode every command needs --user NAME.", code="USER_REQUIRED")
        return ensure_local_user(session, currency)
    user = get_user(session, username)
    if user is None or not user.active:
        raise NotFound(f"No active user named {username!r}.", code="UNKNOWN_USER")
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The user if the password matches, else None (same work either way)."""
    user = get_user(session, username)
    ok = verify_password(password, user.password_hash if user else None)
    return user if ok and user is not None and user.active else None


def set_currency(session: Session, user_id: int, currency: str) -> None:
    """The currency values are shown in (converted from each source's own at the ECB reference rates): one
    the ECB quotes, so values can never be shown 1:1 under a wrong label."""
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise InvalidInput("A currency is a three-letter ISO code such as EUR.", code="INVALID_CURRENCY")
    validate_display_currency(currency)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.", code="UNKNOWN_USER")
    user.currency = currency
    session.flush()
