"""Commands for model versions: train turn by turn, list the registry, run experiments, run a job."""

from __future__ import annotations

from typing import Any

import click

from flywheel_core.cli._common import ACTOR, Context, click_type, emit, json_option, workspace_option
from flywheel_core.params import (
    ALPHA,
    EXPERIMENT,
    FEEDBACK_MODEL,
    LABEL_BUDGET,
    MIN_NEGATIVES,
    MIN_POSITIVES,
    N_TURNS,
    NETWORK_COHORT_SHARE,
    POISON_COHORT_SHARE,
    RECOMMEND_MODEL,
    REPEATS,
    TASK,
    TURN_BY,
)


def _metric_line(row: dict[str, object]) -> str:
    metrics = row["metrics"]
    assert isinstance(metrics, dict)
    shown = "  ".join(
        f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float) and not k.endswith(("rows", "users"))
    )
    return f"v{row['version']:<4} turn {row['turn']:<3} {row['train_rows']:>10,} rows  {shown}"


@click.command("train")
@click.argument("name")
@click.option("--turns", type=click_type(N_TURNS), default=N_TURNS.default, show_default=True, help=N_TURNS.help)
@click.option("--task", type=click_type(TASK), default=TASK.default, show_default=True, help=TASK.help)
@click.option(
    "--model",
    default=None,
    help=f"feedback: {' or '.join(FEEDBACK_MODEL.options)} (default {FEEDBACK_MODEL.default}); "
    f"recommend: {' or '.join(RECOMMEND_MODEL.options)} (default {RECOMMEND_MODEL.default}).",
)
@click.option("--by", type=click_type(TURN_BY), default=TURN_BY.default, show_default=True, help=TURN_BY.help)
@click.option("--jobs", "n_jobs", type=int, default=None, help="Parallel fits (default: the local cores).")
@click.option(
    "--next",
    "next_turns",
    is_flag=True,
    help="Train only the turns that events added since the last run complete (same turn length, model and "
    "seed as that run; its other options are not used). Exits 0 with 'nothing to train' when none is.",
)
@click.option(
    "--exclude-seen/--include-seen",
    default=True,
    show_default=True,
    help="recommend: leave out of each user's list (and of the hits) the items they had before the cut. "
    "Include them where re-consumption is the outcome (replays, re-orders).",
)
@click.option(
    "--weighted",
    "weight_by_signal",
    is_flag=True,
    help="feedback: weight each example by its signal's weight in the dictionary (a 'save' at 3 counts as three "
    "'clicks'; see `flywheel dataset remap`).",
)
@click.option("--min-positives", type=click_type(MIN_POSITIVES), default=MIN_POSITIVES.default, show_default=True,
              help=MIN_POSITIVES.help)  # fmt: skip
@click.option("--min-negatives", type=click_type(MIN_NEGATIVES), default=MIN_NEGATIVES.default, show_default=True,
              help=MIN_NEGATIVES.help)  # fmt: skip
@click.option("--alpha", type=click_type(ALPHA), default=ALPHA.default, show_default=True, help=ALPHA.help)
@workspace_option
@json_option
@click.pass_obj
def train_command(
    obj: Context,
    name: str,
    turns: int,
    task: str,
    model: str | None,
    by: str,
    n_jobs: int | None,
    next_turns: bool,
    exclude_seen: bool,
    weight_by_signal: bool,
    min_positives: int,
    min_negatives: int,
    alpha: float,
    workspace: str | None,
    as_json: bool,
) -> None:
    """Train one model version per turn of dataset NAME and store them in the registry."""
    from flywheel_core.learning.api import run_training
    from flywheel_core.learning.registry import version_row

    ws = obj.workspace(workspace)
    if next_turns:
        _train_next(obj, ws.id, name, n_jobs, as_json)
        return
    versions = run_training(
        obj.store(),
        workspace_id=ws.id,
        dataset_name=name,
        actor=ACTOR,
        task=task,
        model=model,
        n_turns=turns,
        by=by,
        n_jobs=n_jobs,
        exclude_seen=exclude_seen,
        weight_by_signal=weight_by_signal,
        min_positives=min_positives,
        min_negatives=min_negatives,
        alpha=alpha,
    )
    rows = [version_row(v) for v in versions]
    emit({"dataset": name, "versions": rows}, as_json, lambda: "\n".join(_metric_line(r) for r in rows))


def _train_next(obj: Context, workspace_id: int, name: str, n_jobs: int | None, as_json: bool) -> None:
    from flywheel_core.learning.api import train_next_turns
    from flywheel_core.learning.registry import version_row

    done = train_next_turns(obj.store(), workspace_id=workspace_id, dataset_name=name, actor=ACTOR, n_jobs=n_jobs)
    rows = [version_row(v) for v in done.versions]
    payload = {"dataset": name, "turn_length": done.turn_length, "versions": rows, "nothing_to_train": not rows}
    if not rows:
        payload["reason"] = done.reason
    emit(payload, as_json, lambda: "\n".join(_metric_line(r) for r in rows) if rows else done.reason)


@click.command("versions")
@click.argument("name")
@workspace_option
@json_option
@click.pass_obj
def versions_command(obj: Context, name: str, workspace: str | None, as_json: bool) -> None:
    """List the model versions of dataset NAME."""
    from flywheel_core.data import api as data_api
    from flywheel_core.learning import api as learning_api
    from flywheel_core.learning.registry import version_row

    ws = obj.workspace(workspace)
    store = obj.store()
    dataset = data_api.get_dataset(store, workspace_id=ws.id, name=name, actor=ACTOR)
    versions = learning_api.list_model_versions(store, workspace_id=ws.id, dataset_id=dataset.id, actor=ACTOR)
    rows = [version_row(v) for v in versions]
    emit(
        {"dataset": name, "versions": rows},
        as_json,
        lambda: "\n".join(_metric_line(r) for r in rows) or f"No versions yet: `flywheel train '{name}' --turns 5`.",
    )


_COHORT_SHARES = (NETWORK_COHORT_SHARE, POISON_COHORT_SHARE)  # the kinds that delete or poison a cohort


@click.command("experiment")
@click.argument("name")
@click.option("--kind", type=click_type(EXPERIMENT), required=True, help=EXPERIMENT.help)
@click.option("--repeats", type=click_type(REPEATS), default=REPEATS.default, show_default=True, help=REPEATS.help)
@click.option(
    "--label-budget",
    type=click_type(LABEL_BUDGET),
    default=None,
    help=f"capture: {LABEL_BUDGET.help} (default {LABEL_BUDGET.default}).",
)
@click.option(
    "--cohort-share",
    type=click.FloatRange(min(p.low for p in _COHORT_SHARES), max(p.high for p in _COHORT_SHARES)),
    default=None,
    help=f"network: {NETWORK_COHORT_SHARE.help} ({NETWORK_COHORT_SHARE.low:g}-{NETWORK_COHORT_SHARE.high:g}, default "
    f"{NETWORK_COHORT_SHARE.default:g}); poisoning: {POISON_COHORT_SHARE.help} ({POISON_COHORT_SHARE.low:g}-"
    f"{POISON_COHORT_SHARE.high:g}, default {POISON_COHORT_SHARE.default:g}).",
)
@click.option("--seed", "random_state", type=int, default=0, show_default=True, help="Seed of the repeats.")
@workspace_option
@json_option
@click.pass_obj
def experiment_command(
    obj: Context,
    name: str,
    kind: str,
    repeats: int,
    label_budget: int | None,
    cohort_share: float | None,
    random_state: int,
    workspace: str | None,
    as_json: bool,
) -> None:
    """Run one of the seed's experiments on dataset NAME and record it.

    It repeats on random halves of the users and prints the effect with its 95% interval and the
    conclusion (effect, no_effect or inconclusive) read from it.
    """
    from flywheel_core.experiments.api import run_experiment, stored_experiment

    options: dict[str, Any] = {"repeats": repeats, "random_state": random_state}
    if label_budget is not None:
        if kind != "capture":
            raise click.UsageError("--label-budget applies to --kind capture only.")
        options["label_budget"] = label_budget
    if cohort_share is not None:
        if kind not in ("network", "poisoning"):
            raise click.UsageError("--cohort-share applies to --kind network or poisoning only.")
        options["cohort_share"] = cohort_share
    ws = obj.workspace(workspace)
    row = run_experiment(obj.store(), workspace_id=ws.id, dataset_name=name, kind=kind, actor=ACTOR, **options)
    result = stored_experiment(row).result
    emit({"dataset": name, "id": row.id, **result.to_json()}, as_json, result.sentence)


@click.group("job", hidden=True)
def job_group() -> None:
    """Background jobs (used by the app's runner)."""


@job_group.command("run")
@click.argument("job_id", type=int)
@click.option("--workspace-id", type=int, required=True)
@click.pass_obj
def job_run_command(obj: Context, job_id: int, workspace_id: int) -> None:
    """Run a recorded job in this process, reporting progress in its row."""
    from flywheel_core.jobs import execute_job

    job = execute_job(obj.store(), workspace_id=workspace_id, job_id=job_id)
    click.echo(f"job {job.id}: {job.status}{' - ' + job.error if job.error else ''}")


def register(group: click.Group) -> None:
    """Add this module's commands to the `flywheel` group."""
    for command in (train_command, versions_command, experiment_command, job_group):
        group.add_command(command)
