"""Password rules in the manner of NIST SP 800-63B (the sign-in throttle: tests/core/test_sessions.py)."""

from __future__ import annotations

import pytest

from flywheel_core.accounts import check_password, hash_password, verify_password
from flywheel_core.exceptions import DataValidationError


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
