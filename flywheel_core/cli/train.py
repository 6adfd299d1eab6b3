"""Commands for model versions: train turn by turn, list the registry, run experiments, run a job."""

from __future__ import annotations

import click

from flywheel_core.cli._common import ACTOR, Context, click_type, emit, json_option, workspace_option
from flywheel_core.params import EXPERIMENT, FEEDBACK_MODEL, N_TURNS, RECOMMEND_MODEL, TASK, TURN_BY


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


@click.command("experiment")
@click.argument("name")
@click.option("--kind", type=click_type(EXPERIMENT), required=True, help=EXPERIMENT.help)
@workspace_option
@json_option
@click.pass_obj
def experiment_command(obj: Context, name: str, kind: str, workspace: str | None, as_json: bool) -> None:
    """Run one of the seed's experiments on dataset NAME and record it."""
    from flywheel_core.experiments.api import run_experiment

    ws = obj.workspace(workspace)
    experiment = run_experiment(obj.store(), workspace_id=ws.id, dataset_name=name, kind=kind, actor=ACTOR)
    emit({"dataset": name, "id": experiment.id, **experiment.result}, as_json, experiment.result["sentence"])


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
