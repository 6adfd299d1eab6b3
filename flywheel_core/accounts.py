"""Built-in accounts: argon2 password hashes, password rules, the sign-in throttle's rule, session tokens.

Password rules follow NIST SP 800-63B: 10 to 256 characters, any characters (spaces included), but not
only whitespace; no composition rules. The throttle counts failed sign-ins per account and per client
address in a sliding window (the failures are stored in the database, so all app processes share
them); past the allowance the attempt is refused without checking the password (so a guess costs the
server nothing) and the message says when to try again. A session is a random token: the browser's
cookie holds it signed with the server's secret (HMAC-SHA256), the database only its SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from flywheel_core.exceptions import DataValidationError

__all__ = [
    "MAX_PASSWORD_CHARS",
    "MIN_PASSWORD_CHARS",
    "SessionStatus",
    "SignInThrottle",
    "account_key",
    "check_password",
    "check_username",
    "hash_password",
    "new_session_token",
    "sign_token",
    "token_digest",
    "unsign_token",
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


@dataclass(frozen=True)
class SignInThrottle:
    """How many failed sign-ins an account and an address may make in a sliding window.

    The failures themselves are rows in the database (``signinfailure``), so every app process counts
    the same guesses; :meth:`refusal` decides from their counts, before any password is verified.
    """

    per_account: int = 5
    per_address: int = 20
    window_seconds: float = 900.0

    def since(self, now: datetime) -> datetime:
        """The start of the window that ends at ``now``."""
        return now - timedelta(seconds=self.window_seconds)

    def refusal(
        self,
        *,
        account: tuple[int, datetime | None],
        address: tuple[int, datetime | None] | None,
        now: datetime,
    ) -> str | None:
        """Why a sign-in is refused now (saying when to try again), or None when it may go ahead.

        ``account`` and ``address`` are (failures in the window, the oldest of them).
        """
        waits = []
        for (failures, oldest), allowance in ((account, self.per_account), (address or (0, None), self.per_address)):
            if failures >= allowance and oldest is not None:
                waits.append(self.window_seconds - (now - oldest).total_seconds())
        if not waits:
            return None
        minutes = max(1, round(max(1.0, max(waits)) / 60))
        return f"Too many failed sign-ins: try again in {minutes} minute{'s' if minutes != 1 else ''}."


def account_key(username: str) -> str:
    """The name failures are counted under: what was typed, stripped and lower-cased (at most 120 chars)."""
    return username.strip().lower()[:120]


@dataclass(frozen=True)
class SessionStatus:
    """What a session cookie is worth on this request: the signed-in user, or why it no longer counts.

    ``ended`` is one of ``"expired"`` (idle too long or too old), ``"signed_out"`` (this session or every
    session of the user was signed out), ``"disabled"`` (the account was disabled or offboarded) and
    ``"unknown"`` (not a session this server made).
    """

    username: str | None
    ended: str | None = None

    @property
    def message(self) -> str:
        return _ENDED.get(self.ended or "", "")


_ENDED = {
    "expired": "Your session expired. Sign in again.",
    "signed_out": "You were signed out (from this browser or everywhere). Sign in again.",
    "disabled": "This account is disabled. Ask your workspace's owner or your administrator.",
}


def new_session_token() -> str:
    """A random session token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the database keeps of a token: its SHA-256, so a copy of the database opens no session."""
    return hashlib.sha256(token.encode()).hexdigest()


def sign_token(token: str, secret: bytes) -> str:
    """The cookie value: ``token.signature`` (HMAC-SHA256 with the server's secret, URL-safe base64)."""
    mac = hmac.new(secret, token.encode(), hashlib.sha256).digest()
    return f"{token}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def unsign_token(value: str | None, secret: bytes) -> str | None:
    """The token inside a cookie value when its signature is the server's, else None (never raises)."""
    if not value or len(value) > 200 or "." not in value:
        return None
    token = value.rsplit(".", 1)[0]
    if not _TOKEN.match(token):
        return None
    return token if hmac.compare_digest(sign_token(token, secret), value) else None


_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
