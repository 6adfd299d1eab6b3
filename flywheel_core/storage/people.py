"""People's sign-in state in the database: sessions, failed sign-ins, disabled accounts, the cookie secret.

Repository functions in the manner of :mod:`flywheel_core.storage.repository` (keyword-only, each takes the
session): the Store wraps each in one unit of work. None of these rows belongs to a workspace.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, text, update
from sqlmodel import Session, col, select

from flywheel_core.config import Settings
from flywheel_core.exceptions import ConfigurationError, NotFoundError, PermissionDeniedError
from flywheel_core.storage import repository as repo
from flywheel_core.storage.models import Membership, SignInFailure, UserAccount, UserSession, as_utc

if TYPE_CHECKING:  # accounts imports argon2: loaded when a sign-in needs it, not with the store
    from flywheel_core.accounts import SessionStatus, SignInThrottle

__all__ = [
    "SECRET_FILE",
    "add_session",
    "clear_failures",
    "reserve_attempt",
    "resume_session",
    "revoke_session",
    "revoke_sessions",
    "session_secret",
    "set_disabled",
    "touch_session",
]

SECRET_FILE = "session_secret"
# How stale ``last_seen_at`` may get before a request writes it again: reruns read, they rarely write.
TOUCH_EVERY = timedelta(minutes=1)
_ATTEMPT_LOCK = 7412002  # PostgreSQL advisory lock serialising sign-in bookkeeping (ms per attempt)


def session_secret(settings: Settings) -> bytes:
    """The key that signs session cookies: ``FLYWHEEL_SECRET_KEY``, else ``<data folder>/session_secret``.

    The file is made on first use with mode 0600 (written aside, then linked into place, so two processes
    starting at once agree on one secret).

    Raises:
        ConfigurationError: the secret file exists but is empty or unreadable.
    """
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.data_dir / SECRET_FILE
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".{SECRET_FILE}.{secrets.token_hex(8)}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_urlsafe(48).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(aside, path)  # fails if another process made it first: theirs is the one
        except FileExistsError:
            pass
        finally:
            Path(aside).unlink()
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigurationError(f"Cannot read the session secret {path}: {exc.strerror}.") from exc
    if len(secret) < 32:
        raise ConfigurationError(f"The session secret {path} is too short: delete it to make a new one.")
    return secret


# --- throttle -------------------------------------------------------------------------------------


def _failures(session: Session, where: object, since: datetime) -> tuple[int, datetime | None]:
    count, oldest = session.exec(
        select(func.count(), func.min(SignInFailure.at)).where(where, col(SignInFailure.at) >= since)  # type: ignore[arg-type]
    ).one()
    return int(count), as_utc(oldest)


def reserve_attempt(
    *, session: Session, account: str, address: str | None, throttle: SignInThrottle, now: datetime
) -> int:
    """Count the window's failures and, when allowed, record this attempt as a failure before it is checked.

    Recording first means concurrent guesses in any number of processes each take one of the allowance:
    a correct password then clears the account's failures (:func:`clear_failures`).

    Raises:
        PermissionDeniedError: the account or the address has used its allowance (says when to retry).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ATTEMPT_LOCK})
    since = throttle.since(now)
    session.execute(delete(SignInFailure).where(col(SignInFailure.at) < since))  # forget the past
    by_account = _failures(session, col(SignInFailure.account) == account, since)
    by_address = _failures(session, col(SignInFailure.address) == address, since) if address else None
    refusal = throttle.refusal(account=by_account, address=by_address, now=now)
    if refusal:
        raise PermissionDeniedError(refusal)
    attempt = SignInFailure(account=account, address=(address or None) and address[:64], at=now)
    session.add(attempt)
    session.flush()
    assert attempt.id is not None
    return attempt.id


def clear_failures(*, session: Session, account: str) -> None:
    """A correct password: the account's failures (its reserved attempt included) are forgiven."""
    session.execute(delete(SignInFailure).where(col(SignInFailure.account) == account))


# --- sessions --------------------------------------------------------------------------------------


def add_session(*, session: Session, token: str, username: str, now: datetime) -> UserSession:
    from flywheel_core.accounts import token_digest

    row = UserSession(token_hash=token_digest(token), username=username, created_at=now, last_seen_at=now)
    session.add(row)
    session.flush()
    return row


def resume_session(
    *, session: Session, token: str, idle: timedelta, lifetime: timedelta, now: datetime
) -> tuple[SessionStatus, bool]:
    """Whether the session still counts, and whether its ``last_seen_at`` should be written now."""
    from flywheel_core.accounts import SessionStatus, token_digest

    row = session.exec(select(UserSession).where(UserSession.token_hash == token_digest(token))).first()
    if row is None:
        return SessionStatus(None, "unknown"), False
    user = session.exec(select(UserAccount).where(UserAccount.username == row.username)).first()
    if user is None or user.disabled or not user.password_hash:  # disabled, or offboarded (password cleared)
        return SessionStatus(None, "disabled"), False
    if row.revoked_at is not None:
        return SessionStatus(None, "signed_out"), False
    last_seen, created = as_utc(row.last_seen_at), as_utc(row.created_at)
    assert last_seen is not None and created is not None
    if now - last_seen > idle or now - created > lifetime:
        return SessionStatus(None, "expired"), False
    return SessionStatus(row.username), now - last_seen >= TOUCH_EVERY


def touch_session(*, session: Session, token: str, now: datetime) -> None:
    from flywheel_core.accounts import token_digest

    session.execute(
        update(UserSession)
        .where(col(UserSession.token_hash) == token_digest(token), col(UserSession.revoked_at).is_(None))
        .values(last_seen_at=now)
    )


def revoke_session(*, session: Session, token: str, now: datetime) -> None:
    from flywheel_core.accounts import token_digest

    session.execute(
        update(UserSession)
        .where(col(UserSession.token_hash) == token_digest(token), col(UserSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )


def revoke_sessions(*, session: Session, username: str, now: datetime) -> int:
    """Sign ``username`` out everywhere; returns how many live sessions ended."""
    result = session.execute(
        update(UserSession)
        .where(col(UserSession.username) == username, col(UserSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- disabled accounts -----------------------------------------------------------------------------


def set_disabled(*, session: Session, username: str, disabled: bool, actor: str, check_owner: bool) -> UserAccount:
    """Set the account's ``disabled`` flag and write an audit line in each workspace the person belongs to.

    With ``check_owner`` (a signed-in owner, not the instance's administrator), ``actor`` must own every one
    of those workspaces and cannot change their own account.

    Raises:
        NotFoundError: no account and no membership has that name.
        PermissionDeniedError: ``check_owner`` and the person is also in a workspace ``actor`` does not own.
    """
    memberships = list(session.exec(select(Membership).where(Membership.username == username)))
    user = repo.get_user(session=session, username=username)
    if user is None and not memberships:
        raise NotFoundError(f"No account or membership named '{username}'.", entity="user", name=username)
    if check_owner:
        if username == actor:
            raise PermissionDeniedError("You cannot disable or enable your own account. Ask another owner.")
        foreign = [
            m.workspace_id
            for m in memberships
            if repo.get_role(session=session, workspace_id=m.workspace_id, username=actor) != "owner"
        ]
        if foreign:
            raise PermissionDeniedError(
                f"'{username}' is also a member of {len(foreign)} workspace(s) you do not own, so only the "
                f"administrator can change their account (flywheel user {'disable' if disabled else 'enable'})."
            )
    if user is None:  # an OIDC identity: a password-less account carries the flag
        user = UserAccount(username=username, password_hash=None)
    user.disabled = disabled
    session.add(user)
    session.flush()
    word = "disabled" if disabled else "enabled"
    targets: list[int | None] = [m.workspace_id for m in memberships] or [None]
    for workspace_id in targets:
        repo.record_audit(
            session=session,
            workspace_id=workspace_id,
            actor=actor,
            action="update",
            entity="user",
            entity_id=username,
            detail=word,
        )
    return user
