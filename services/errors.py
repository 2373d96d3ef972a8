"""Domain errors: a stable machine code plus a one-line message a user can act on."""

from __future__ import annotations


class VitrineError(Exception):
    """Base of every error the UI and the CLI show to a user."""

    code = "ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code

    def to_json(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


class InvalidInput(VitrineError):
    code = "INVALID_INPUT"


class NotFound(VitrineError):
    code = "NOT_FOUND"


class Conflict(VitrineError):
    code = "CONFLICT"


class StaleEdit(Conflict):
    code = "STALE_EDIT"
