"""The Store's sign-in half: password checks under the shared throttle, server-side sessions, disabled accounts.

A mixin of :class:`flywheel_core.storage.store.Store` (it uses the store's engine, settings and throttle),
kept apart so the store's module stays about workspaces and their data.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from flywheel_core.exceptions import PermissionDeniedError
from flywheel_core.storage import people
from flywheel_core.storage import repository as repo
from flywheel_core.storage.engine import session_scope
from flywheel_core.storage.models import UserAccount, utc_now

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from flywheel_core.accounts import SessionStatus, SignInThrottle
    from flywheel_core.config import Settings

__all__ = ["SignInMixin"]

# Verified against when the user does not exist, so both answers take the same time.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$tjaDj/SyNXczv6Pd072+Og$DaRWQjNSgBA1Z+z5ihUvTHXVyMuSfo6ji6v4zWPBc9M"


class SignInMixin:
    engine: Engine
    settings: Settings
    throttle: SignInThrottle
    enforce_roles: bool
    _session_secret: bytes | None

    def authenticate(
        self, *, username: str, password: str, address: str | None = None, now: datetime | None = None
    ) -> str | None:
        """The username if the password matches a built-in account, else None (same answer for unknown users).

        The attempt is counted in the database before the password is checked (every app process shares
        the count); a correct password clears the account's failures.

        Raises:
            PermissionDeniedError: too many failed sign-ins for this account or address (says when to retry),
                or the password is right but the account is disabled.
        """
        from flywheel_core.accounts import SessionStatus, account_key, verify_password

        now = now or utc_now()
        key = account_key(username)
        with session_scope(self.engine) as session:
            people.reserve_attempt(session=session, account=key, address=address, throttle=self.throttle, now=now)
        with session_scope(self.engine, write=False) as session:
            user = repo.get_user(session=session, username=username.strip())
            stored = user.password_hash if user else None
            disabled = bool(user and user.disabled)
        ok = verify_password(stored or _DUMMY_HASH, password)
        if not (ok and stored):
            return None
        with session_scope(self.engine) as session:
            people.clear_failures(session=session, account=key)
        if disabled:  # said only to someone who knows the password
            raise PermissionDeniedError(SessionStatus(None, "disabled").message)
        return username.strip()

    # --- sessions (built-in accounts) -------------------------------------------------------------------

    def _secret(self) -> bytes:
        if self._session_secret is None:
            self._session_secret = people.session_secret(self.settings)
        return self._session_secret

    def start_session(self, *, username: str, now: datetime | None = None) -> str:
        """A new server-side session for ``username``; returns the signed cookie value that names it."""
        from flywheel_core.accounts import new_session_token, sign_token

        token = new_session_token()
        with session_scope(self.engine) as session:
            people.add_session(session=session, token=token, username=username, now=now or utc_now())
        return sign_token(token, self._secret())

    def resume_session(self, *, cookie: str | None, now: datetime | None = None) -> SessionStatus:
        """Whether a cookie's session still counts: signed by this server, not revoked, not idle or too old,
        and its account neither disabled nor offboarded. Writes ``last_seen_at`` at most once a minute."""
        from flywheel_core.accounts import SessionStatus, unsign_token

        token = unsign_token(cookie, self._secret())
        if token is None:
            return SessionStatus(None, "unknown")
        now = now or utc_now()
        idle = timedelta(minutes=self.settings.session_idle_minutes)
        lifetime = timedelta(hours=self.settings.session_max_hours)
        with session_scope(self.engine, write=False) as session:
            status, stale = people.resume_session(session=session, token=token, idle=idle, lifetime=lifetime, now=now)
        if stale:
            with session_scope(self.engine) as session:
                people.touch_session(session=session, token=token, now=now)
        return status

    def end_session(self, *, cookie: str | None) -> None:
        """Sign this browser out: its session stops working on the server, whatever the browser keeps."""
        from flywheel_core.accounts import unsign_token

        token = unsign_token(cookie, self._secret())
        if token is not None:
            with session_scope(self.engine) as session:
                people.revoke_session(session=session, token=token, now=utc_now())

    def revoke_sessions(self, *, username: str) -> int:
        """Sign ``username`` out everywhere; returns how many live sessions ended."""
        with session_scope(self.engine) as session:
            return people.revoke_sessions(session=session, username=username, now=utc_now())

    def set_disabled(self, *, username: str, disabled: bool, actor: str) -> UserAccount:
        """Disable (or enable) a person's sign-in; disabling also ends their sessions.

        Where roles are enforced (a workspace owner on the Workspace page) ``actor`` must own every
        workspace ``username`` belongs to and cannot disable themself; the command line may disable anyone.
        An identity without an account (OIDC) gets a password-less one that carries the flag.
        """
        with session_scope(self.engine) as session:
            user = people.set_disabled(
                session=session, username=username, disabled=disabled, actor=actor, check_owner=self.enforce_roles
            )
            if disabled:
                people.revoke_sessions(session=session, username=username, now=utc_now())
            return user

    def is_disabled(self, *, username: str) -> bool:
        with session_scope(self.engine, write=False) as session:
            user = repo.get_user(session=session, username=username)
            return bool(user and user.disabled)

    def disabled_among(self, *, usernames: list[str]) -> set[str]:
        """Which of ``usernames`` have a disabled account."""
        from sqlmodel import col, select

        if not usernames:
            return set()
        with session_scope(self.engine, write=False) as session:
            query = select(UserAccount.username).where(
                col(UserAccount.username).in_(usernames), col(UserAccount.disabled).is_(True)
            )
            return set(session.exec(query))
