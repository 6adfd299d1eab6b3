"""Commands for the team's own models and its production: `flywheel versions import`, `flywheel production`,
`flywheel offpolicy` and `flywheel production-demo`.

``flywheel versions`` becomes a group whose default command is the listing of cli/train.py, so
``flywheel versions NAME --json`` lists as before and ``flywheel versions import NAME ...`` imports
(register this module after cli/train.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from flywheel_core.cli._common import ACTOR, Context, click_type, emit, json_option, workspace_option
from flywheel_core.exceptions import InsufficientDataError
from flywheel_core.params import OPE_BOOTSTRAP, PRODUCTION_MATERIAL, TASK


class _DefaultGroup(click.Group):
    """A group that runs ``default`` when its first argument is not one of its commands."""

    default = "list"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [self.default, *args]
        return super().parse_args(ctx, args)


@click.command("import")
@click.argument("dataset")
@click.option("--mlflow", "mlflow_uri", default=None, metavar="URI", help="MLflow tracking URI (sqlite:///mlflow.db).")
@click.option("--experiment", default=None, metavar="NAME", help="The MLflow experiment whose runs to import.")
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A CSV or JSON file of versions (version, trained_at, train_rows, metrics, <metric>_low/_high, "
    "holdout_rows, holdout_positives).",
)
@click.option(
    "--x-param",
    default=None,
    metavar="NAME",
    help="The param or metric (MLflow) or column (file) holding each version's data size (default train_rows).",
)
@click.option("--task", type=click_type(TASK), default=TASK.default, show_default=True, help=TASK.help)
@workspace_option
@json_option
@click.pass_obj
def import_command(
    obj: Context,
    dataset: str,
    mlflow_uri: str | None,
    experiment: str | None,
    file: Path | None,
    x_param: str | None,
    task: str,
    workspace: str | None,
    as_json: bool,
) -> None:
    """Import model versions from MLflow or a file into DATASET's registry, beside the trained ones."""
    from flywheel_core.learning.api import import_versions
    from flywheel_core.learning.registry import version_row

    if (file is None) == (mlflow_uri is None):
        raise click.UsageError("Give --mlflow URI --experiment NAME, or --file PATH.")
    ws = obj.workspace(workspace)
    result = import_versions(
        obj.store(),
        workspace_id=ws.id,
        dataset_name=dataset,
        actor=ACTOR,
        mlflow_uri=mlflow_uri,
        experiment=experiment,
        file=None if file is None else file.read_bytes(),
        file_name="" if file is None else file.name,
        x_param=x_param,
        task=task,
    )
    rows = [version_row(v) for v in result.imported]
    payload = {
        "dataset": dataset,
        "source": result.source,
        "location": result.location,
        "imported": rows,
        "already_imported": list(result.already_imported),
        "left_out": list(result.left_out),
    }

    def text() -> str:
        lines = [f"Imported {len(rows)} version(s) from {result.location} into '{dataset}'."]
        lines += [f"  v{r['version']:<4} {r['train_rows']:>10,} rows  {r['algorithm']}" for r in rows]
        if result.already_imported:
            lines.append(f"Already in the registry (not imported again): {', '.join(result.already_imported)}.")
        lines += [f"Left out: {reason}" for reason in result.left_out]
        return "\n".join(lines)

    emit(payload, as_json, text)


@click.command("production")
@click.argument("dataset")
@click.option(
    "--material",
    type=click_type(PRODUCTION_MATERIAL),
    default=PRODUCTION_MATERIAL.default,
    show_default=True,
    help=PRODUCTION_MATERIAL.help,
)
@click.option(
    "--x",
    "x",
    type=click.Choice(["order", "first_served"]),
    default="order",
    show_default=True,
    help="The verdict's x: the order versions served in, or days since the first served.",
)
@workspace_option
@json_option
@click.pass_obj
def production_command(
    obj: Context, dataset: str, material: float, x: str, workspace: str | None, as_json: bool
) -> None:
    """How each model version did on the events it served in DATASET, and what changed between them."""
    from flywheel_core.learning.api import judge_production, production_comparison

    ws = obj.workspace(workspace)
    report = production_comparison(
        obj.store(), workspace_id=ws.id, dataset_name=dataset, actor=ACTOR, material=material
    )
    payload: dict[str, Any] = {"dataset": dataset, **report.to_json()}
    try:
        verdict = judge_production(report, x=x)
        payload["verdict"] = verdict.to_json()
    except InsufficientDataError as exc:
        verdict = None
        payload["verdict"] = {"verdict": None, "problem": str(exc)}

    def text() -> str:
        lines = [f"{dataset}: {len(report.versions)} version(s) served (outcome: {report.outcome})"]
        for v in report.versions:
            lines.append(
                f"  {v.version:<16} {v.events:>10,} events {v.users:>8,} users  rate {v.rate:.4f} "
                f"(95% CI {v.low:.4f}–{v.high:.4f})"
            )
        lines += [f"  {c.sentence}" for c in report.comparisons]
        if verdict is not None:
            lines.append(f"Verdict: {verdict.verdict.upper()} ({verdict.confidence:.0%}): {verdict.reason}")
        else:
            lines.append(f"Verdict: not judged: {payload['verdict']['problem']}")
        return "\n".join(lines)

    emit(payload, as_json, text)


@click.command("offpolicy")
@click.argument("dataset")
@click.option("--policy", required=True, metavar="VERSION", help="The logged version to evaluate.")
@click.option(
    "--on",
    "on",
    multiple=True,
    metavar="VERSION",
    help="Evaluate on this version's traffic (repeatable; default: every other version).",
)
@click.option("--context", default=None, metavar="COLUMN", help="The column the policies choose by (default: found).")
@click.option(
    "--bootstrap",
    "n_bootstrap",
    type=click_type(OPE_BOOTSTRAP),
    default=OPE_BOOTSTRAP.default,
    show_default=True,
    help=OPE_BOOTSTRAP.help,
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the bootstrap.")
@workspace_option
@json_option
@click.pass_obj
def offpolicy_command(
    obj: Context,
    dataset: str,
    policy: str,
    on: tuple[str, ...],
    context: str | None,
    n_bootstrap: int,
    seed: int,
    workspace: str | None,
    as_json: bool,
) -> None:
    """What version POLICY would have earned on the traffic other versions served in DATASET (IPS, SNIPS, DR)."""
    from flywheel_core.learning.api import evaluate_offpolicy

    ws = obj.workspace(workspace)
    result = evaluate_offpolicy(
        obj.store(),
        workspace_id=ws.id,
        dataset_name=dataset,
        actor=ACTOR,
        policy=policy,
        on=list(on) or None,
        context=context,
        n_bootstrap=n_bootstrap,
        random_state=seed,
    )

    def text() -> str:
        lines = [
            f"{policy} on the traffic of {', '.join(result.logged_on)} ({result.events:,} events, "
            f"{result.users:,} users; that traffic earned {result.logged_rate:.4f}); {result.context_note}",
        ]
        for e in result.estimates:
            lines.append(f"  {e.estimator.upper():<6} {e.value:.4f} (95% CI {e.low:.4f}–{e.high:.4f})")
        lines.append(
            f"  effective sample size {result.ess:,.0f} ({result.ess_share:.1%} of the events); "
            f"{policy} earned {result.policy_rate:.4f} on its own {result.policy_events:,} events"
        )
        if result.warning:
            lines.append(f"  {result.warning}")
        return "\n".join(lines)

    emit({"dataset": dataset, **result.to_json()}, as_json, text)


@click.command("production-demo")
@click.option("--events", "n_events", type=click.IntRange(1_000, 5_000_000), default=200_000, show_default=True)
@workspace_option
@json_option
@click.pass_obj
def production_demo_command(obj: Context, n_events: int, workspace: str | None, as_json: bool) -> None:
    """Store the production demo log (three ranker versions, propensities) in the workspace."""
    from flywheel_core.learning.api import store_production_demo

    ws = obj.workspace(workspace)
    info = store_production_demo(obj.store(), workspace_id=ws.id, actor=ACTOR, n_events=n_events)
    emit(
        {"workspace": ws.name, "dataset": info.name, "rows": info.rows},
        as_json,
        f"Stored '{info.name}' ({info.rows:,} events) in workspace '{ws.name}'. Try: flywheel production '{info.name}'",
    )


def register(group: click.Group) -> None:
    """Add this module's commands to the `flywheel` group (after cli/train.py, whose listing it wraps)."""
    listing = group.commands.get("versions")
    if isinstance(listing, _DefaultGroup):  # registered twice (tests call the registration again)
        listing = listing.commands.get("list")
    if listing is None or isinstance(listing, click.Group):
        raise RuntimeError("cli.models must be registered after cli.train (it wraps `flywheel versions`).")
    versions = _DefaultGroup(
        "versions",
        help="List a dataset's model versions (flywheel versions NAME), or import the team's own "
        "(flywheel versions import NAME --mlflow URI --experiment EXP | --file versions.csv).",
    )
    versions.add_command(listing, "list")
    versions.add_command(import_command)
    group.add_command(versions)
    for command in (production_command, offpolicy_command, production_demo_command):
        group.add_command(command)
