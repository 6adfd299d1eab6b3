"""Built-in accounts: argon2 password hashes, password rules, and a sign-in throttle.

Password rules follow NIST SP 800-63B: 10 to 256 characters, any characters (spaces included), but not
only whitespace; no composition rules. The throttle counts failed sign-ins per account and per client
address in a sliding window; past the allowance the attempt is refused without checking the password
(so a guess costs the server nothing) and the message says when to try again.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from flywheel_core.exceptions import DataValidationError, PermissionDeniedError

__all__ = [
    "MAX_PASSWORD_CHARS",
    "MIN_PASSWORD_CHARS",
    "SignInThrottle",
    "check_password",
    "check_username",
    "hash_password",
    "verify_password",
]

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 256
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,119}$")
_HASHER = PasswordHasher()


def check_username(username: str) -> str:
    name = username.strip()
    if not _USERNAME.match(name):
        raise DataValidationError(
            f"Username {username!r} is not allowed: use 1-120 letters, digits and . _ @ + - (an e-mail address works)."
        )
    return name


def check_password(password: str) -> str:
    """``password`` when it meets the rules (10-256 characters, not only whitespace); else why not."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise DataValidationError(f"A password needs at least {MIN_PASSWORD_CHARS} characters.")
    if len(password) > MAX_PASSWORD_CHARS:
        raise DataValidationError(f"A password can have at most {MAX_PASSWORD_CHARS} characters.")
    if not password.strip():
        raise DataValidationError("A password cannot be only spaces or other whitespace.")
    return password


def hash_password(password: str) -> str:
    return _HASHER.hash(check_password(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; False for a wrong password or an account without one."""
    if not password_hash or len(password) > MAX_PASSWORD_CHARS:  # never hash an unbounded input
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass
class SignInThrottle:
    """Failed sign-ins per account and per address in a sliding window (one per app process).

    ``check`` raises before a password is verified when either key has used its allowance;
    ``failed`` records a failure; ``succeeded`` clears the account's failures.
    """

    per_account: int = 5
    per_address: int = 20
    window_seconds: float = 900.0
    clock: object = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._failures.setdefault(key, deque())
        while stamps and now - stamps[0] >= self.window_seconds:
            stamps.popleft()
        return stamps

    def _now(self) -> float:
        clock = self.clock
        assert callable(clock)
        return float(clock())

    def check(self, *, username: str, address: str | None) -> None:
        """Raise PermissionDeniedError, saying when to try again, when the account or address is locked."""
        now = self._now()
        with self._lock:
            for key, allowance in ((f"user:{username.strip().lower()}", self.per_account),
                                   (f"addr:{address}" if address else "", self.per_address)):  # fmt: skip
                if not key:
                    continue
                stamps = self._recent(key, now)
                if len(stamps) >= allowance:
                    wait = max(1, round(self.window_seconds - (now - stamps[0])))
                    minutes = max(1, round(wait / 60))
                    raise PermissionDeniedError(
                        f"Too many failed sign-ins: try again in {minutes} minute{'s' if minutes != 1 else ''}."
                    )

    def failed(self, *, username: str, address: str | None) -> None:
        now = self._now()
        with self._lock:
            self._recent(f"user:{username.strip().lower()}", now).append(now)
            if address:
                self._recent(f"addr:{address}", now).append(now)

    def succeeded(self, *, username: str) -> None:
        with self._lock:
            self._failures.pop(f"user:{username.strip().lower()}", None)
