"""`flywheel dataset`: change what a stored dataset's events mean, or delete it."""

from __future__ import annotations

import click

from flywheel_core.cli._common import ACTOR, Context, emit, json_option, workspace_option


@click.group("dataset")
def dataset_group() -> None:
    """Re-map or delete a stored dataset (`flywheel datasets` lists them)."""


@dataset_group.command("remap")
@click.argument("name")
@click.option(
    "--signal",
    "signal_options",
    multiple=True,
    metavar="EVENT=POLARITY[:WEIGHT][:KIND]",
    help="What an event means, e.g. save=positive:3:explicit (repeatable).",
)
@click.option(
    "--rule",
    "rule_options",
    multiple=True,
    metavar="'EVENT: value OP N -> POLARITY[:WEIGHT]'",
    help="A value rule, e.g. 'stream: value < 30 -> negative' (repeatable; replaces the dataset's rules).",
)
@click.option("--no-rules", is_flag=True, help="Remove every value rule.")
@workspace_option
@json_option
@click.pass_obj
def remap_command(
    obj: Context,
    name: str,
    signal_options: tuple[str, ...],
    rule_options: tuple[str, ...],
    no_rules: bool,
    workspace: str | None,
    as_json: bool,
) -> None:
    """Change what dataset NAME's events mean without importing it again (a new dictionary version)."""
    from flywheel_core.data import api as data_api
    from flywheel_core.data.signals import parse_rule_option, parse_signal_option
    from flywheel_core.exceptions import DataValidationError

    if not (signal_options or rule_options or no_rules):
        raise DataValidationError("Nothing to change: give --signal, --rule or --no-rules.")
    if rule_options and no_rules:
        raise DataValidationError("--rule and --no-rules contradict each other: give one.")
    signals = dict(parse_signal_option(s) for s in signal_options)
    rules = [parse_rule_option(r) for r in rule_options] if (rule_options or no_rules) else None
    ws = obj.workspace(workspace)
    info = data_api.remap_dataset(
        obj.store(), workspace_id=ws.id, name=name, actor=ACTOR, signals=signals or None, rules=rules
    )
    payload = {
        "dataset": info.name,
        "signal_dictionary_version": info.signals.version,
        "signals": info.signals.to_json()["events"],
        "rules": info.signals.explain_rules(),
    }
    emit(
        payload,
        as_json,
        lambda: (
            f"'{info.name}' now reads its events with signal dictionary v{info.signals.version}"
            + "".join(f"\n  rule: {r}" for r in info.signals.explain_rules())
            + "\nVersions trained before keep the dictionary they used; train again to learn from the new meanings."
        ),
    )


@dataset_group.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@workspace_option
@json_option
@click.pass_obj
def delete_command(obj: Context, name: str, yes: bool, workspace: str | None, as_json: bool) -> None:
    """Delete dataset NAME with its model versions and experiments."""
    from flywheel_core.data import api as data_api

    ws = obj.workspace(workspace)
    if not yes:
        click.confirm(f"Delete dataset '{name}' of '{ws.name}' with its model versions and experiments?", abort=True)
    data_api.delete_dataset(obj.store(), workspace_id=ws.id, name=name, actor=ACTOR)
    emit({"dataset": name, "deleted": True}, as_json, f"Deleted dataset '{name}'.")


def register(group: click.Group) -> None:
    group.add_command(dataset_group)
