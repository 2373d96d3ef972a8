"""Users, roles and passwords, and the token vault."""

from services.accounts.users import (
    LOCAL_USERNAME,
    authenticate,
    create_user,
    ensure_local_user,
    get_user,
    list_users,
    resolve_user,
)

__all__ = [
    "LOCAL_USERNAME",
    "authenticate",
    "create_user",
    "ensure_local_user",
    "get_user",
    "list_users",
    "resolve_user",
]
