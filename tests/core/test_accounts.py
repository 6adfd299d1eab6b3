"""Password rules in the manner of NIST SP 800-63B, and the sign-in throttle."""

from __future__ import annotations

import pytest

from flywheel_core.accounts import SignInThrottle, check_password, hash_password, verify_password
from flywheel_core.exceptions import DataValidationError, PermissionDeniedError


@pytest.mark.parametrize(
    ("password", "problem"),
    [("short", "at least 10"), (" " * 10, "only spaces"), ("\t\n" * 6, "only spaces"), ("x" * 257, "at most 256")],
)
def test_passwords_that_break_the_rules_are_refused(password: str, problem: str) -> None:
    with pytest.raises(DataValidationError, match=problem):
        hash_password(password)


def test_any_characters_are_fine_within_the_length() -> None:
    assert check_password("correct horse battery") == "correct horse battery"
    assert verify_password(hash_password("päss wörd 🙂 12"), "päss wörd 🙂 12")
    assert not verify_password(hash_password("päss wörd 🙂 12"), "x" * 10_000)  # never hashed: refused as too long


def test_the_throttle_locks_an_account_and_an_address_and_forgets_after_the_window() -> None:
    now = [1_000.0]
    throttle = SignInThrottle(per_account=3, per_address=5, window_seconds=600, clock=lambda: now[0])
    for _ in range(3):
        throttle.check(username="Ana@x.org", address="10.0.0.1")
        throttle.failed(username="Ana@x.org", address="10.0.0.1")
    with pytest.raises(PermissionDeniedError, match="try again in 10 minutes"):
        throttle.check(username="ana@x.org", address="10.0.0.9")  # the account, from anywhere
    throttle.check(username="bo@x.org", address="10.0.0.1")  # the address has allowance left
    for name in ("c", "d"):
        throttle.failed(username=name, address="10.0.0.1")
    with pytest.raises(PermissionDeniedError, match="Too many failed sign-ins"):
        throttle.check(username="eve@x.org", address="10.0.0.1")  # five failures from one address
    now[0] += 601
    throttle.check(username="ana@x.org", address="10.0.0.1")  # the window has passed
    throttle.failed(username="ana@x.org", address=None)
    throttle.succeeded(username="ana@x.org")
    throttle.check(username="ana@x.org", address=None)
