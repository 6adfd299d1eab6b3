"""The `flywheel` command, run as a real process against a temporary data folder."""

from __future__ import annotations

import json

import pytest

from tests.conftest import OTTO


def test_help_lists_the_commands(run) -> None:
    out = run("--help").stdout
    for command in ("app", "demo", "workspaces", "workspace", "ingest", "datasets", "profile"):
        assert command in out


def test_demo_is_idempotent_and_listed(run) -> None:
    first = json.loads(run("demo", "--events", "1000", "--json").stdout)
    second = json.loads(run("demo", "--events", "1000", "--json").stdout)
    assert len(first["datasets_created"]) == 4 and second["datasets_created"] == []
    listed = json.loads(run("workspaces", "--json").stdout)["workspaces"]
    demo = next(w for w in listed if w["name"] == "Demo")
    assert demo["datasets"] == 4 and demo["events"] >= 4000


def test_workspace_create_and_conflict(run) -> None:
    assert json.loads(run("workspace", "create", "Growth", "--json").stdout)["name"] == "Growth"
    again = run("workspace", "create", "Growth", check=False)
    assert again.returncode == 2
    assert "already exists" in again.stderr and "Traceback" not in again.stderr


def test_unknown_workspace_is_a_clean_error(run) -> None:
    result = run("datasets", "--workspace", "Nope", check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: No workspace named 'Nope'")
    assert "Traceback" not in result.stderr


def test_ingest_otto_with_mapping_then_profile(run) -> None:
    out = json.loads(
        run(
            "ingest",
            str(OTTO),
            "--dataset",
            "otto",
            "--column",
            "user=session",
            "--column",
            "item=aid",
            "--column",
            "timestamp=ts_ms",
            "--column",
            "event=type",
            "--json",
        ).stdout
    )
    assert out == {**out, "dataset": "otto", "rows_read": 862, "rows_stored": 862, "rows_rejected": 0}
    profile = json.loads(run("profile", "otto", "--json").stdout)
    assert profile["events"] == 862 and profile["users"] == 20
    assert profile["first_event"].startswith("2022-07-31T22:00:00.025")
    assert profile["event_counts"] == {"clicks": 800, "carts": 52, "orders": 10}
    assert json.loads(run("datasets", "--json").stdout)["datasets"][0]["events"] == 862


def test_bad_usage_exits_2_without_traceback(run) -> None:
    result = run("ingest", "missing.csv", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_the_command_line_acts_as_a_cli_identity_no_sign_in_can_take(run, env) -> None:
    from flywheel_core.accounts import check_username
    from flywheel_core.config import load_settings
    from flywheel_core.exceptions import DataValidationError
    from flywheel_core.storage.store import Store

    run("workspace", "create", "Ops")
    store = Store(load_settings(env))
    ops = store.get_workspace(name="Ops")
    assert ops.id is not None
    assert [(m.username, m.role) for m in store.list_members(workspace_id=ops.id)] == [("cli:ci", "owner")]
    assert {a.actor for a in store.audit(workspace_id=ops.id)} == {"cli:ci"}
    with pytest.raises(DataValidationError):
        check_username("cli:ci")  # no account, and no verified e-mail, can be named like the command line


def test_offboarding_from_the_command_line(run) -> None:
    run("workspace", "create", "Ops")
    run("member", "add", "Ops", "dev@x.org", "--role", "editor")
    removed = json.loads(run("member", "remove", "Ops", "dev@x.org", "--json").stdout)
    assert removed == {"workspace": "Ops", "username": "dev@x.org", "removed": True}
    members = json.loads(run("members", "Ops", "--json").stdout)["members"]
    assert [m["username"] for m in members] == ["cli:ci"]
    last = run("member", "remove", "Ops", "cli:ci", check=False)
    assert last.returncode == 2 and "only owner" in last.stderr and "Traceback" not in last.stderr
