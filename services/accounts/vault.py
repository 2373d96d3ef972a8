"""The token vault: API keys and OAuth tokens encrypted at rest with Fernet.

The key lives outside the database (VITRINE_SECRET_KEY, or data/secret.key created once with mode 0600),
so a copy of the database alone reveals no secret.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from services.errors import VitrineError
from services.private_files import ensure_private_dir


class VaultError(VitrineError):
    code = "VAULT_ERROR"


def load_or_create_key(key: str | None, key_file: Path) -> bytes:
    if key:
        return key.encode()
    if key_file.exists():
        return key_file.read_bytes().strip()
    ensure_private_dir(key_file.parent)
    new_key = Fernet.generate_key()
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(new_key)
    return new_key


class Vault:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise VaultError(
                "VITRINE_SECRET_KEY is not a valid Fernet key (32 url-safe base64 bytes)."
            ) from None

    def encrypt(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            raise VaultError(
                "A stored secret cannot be decrypted: the secret key changed. Reconnect the service."
            ) from None


def mask(secret: str) -> str:
    """What the UI may show of a secret: its last four characters at most."""
    return "•" * 8 + secret[-4:] if len(secret) > 8 else "•" * 8
