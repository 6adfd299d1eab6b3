"""Built-in accounts: argon2 password hashes and credential checks (no plaintext is ever stored)."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from flywheel_core.exceptions import DataValidationError

__all__ = ["MIN_PASSWORD_CHARS", "check_username", "hash_password", "verify_password"]

MIN_PASSWORD_CHARS = 10
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,119}$")
_HASHER = PasswordHasher()


def check_username(username: str) -> str:
    name = username.strip()
    if not _USERNAME.match(name):
        raise DataValidationError(
            f"Username {username!r} is not allowed: use 1-120 letters, digits and . _ @ + - (an e-mail address works)."
        )
    return name


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise DataValidationError(f"A password needs at least {MIN_PASSWORD_CHARS} characters.")
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; False for a wrong password or an account without one."""
    if not password_hash:
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
