"""Commands for compounding vs plateau: `flywheel curve` judges a series, `flywheel simulate` runs a scenario."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from flywheel_core.cli._common import ACTOR, Context, click_type, emit, json_option, workspace_option
from flywheel_core.curves.terms import VERDICTS
from flywheel_core.exceptions import DataValidationError
from flywheel_core.params import MATERIAL, SIM_RUNS, SIM_WEEKS, X_KIND


def register(group: click.Group) -> None:
    """Add this module's commands to the `flywheel` group."""
    group.add_command(verdict_command)

    @group.command("curve")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--x", "x_col", default=None, metavar="COL", help="Column of x (default: the first column).")
    @click.option("--y", "y_col", default=None, metavar="COL", help="Column of the metric (default: the second).")
    @click.option("--by", "by", default=None, metavar="COL", help="Long format: judge every series named in COL.")
    @click.option("--lower-is-better", is_flag=True, help="The metric is a loss or an error (lower is better).")
    @click.option(
        "--bounds",
        default=None,
        metavar="LOW,HIGH",
        help="The metric's bounds as LOW,HIGH such as 0,1, or 'none' for unbounded (default: inferred from its name).",
    )
    @click.option("--material", type=click_type(MATERIAL), default=None, metavar="GAIN", help=MATERIAL.help)
    @click.option("--x-kind", type=click_type(X_KIND), default=None, help=X_KIND.help)
    @click.option("--target", type=float, default=None, help="Also say how much x it takes to reach this y.")
    @json_option
    def curve(
        file: Path,
        x_col: str | None,
        y_col: str | None,
        by: str | None,
        lower_is_better: bool,
        bounds: str | None,
        material: float | None,
        x_kind: str | None,
        target: float | None,
        as_json: bool,
    ) -> None:
        """Judge a metric series: what the next three doublings (or the next span) will buy, against the material gain."""
        from flywheel_core.curves.forecast import forecast_curve, x_for_target
        from flywheel_core.curves.judge import judge_curve
        from flywheel_core.curves.sources import judge_series_file, parse_bounds, read_series

        lohi = parse_bounds(bounds)
        if by is not None:
            if x_col is None or y_col is None:
                raise DataValidationError("With --by, name the x and y columns too: --x COL --y COL.")
            verdicts = judge_series_file(
                file, by=by, x_column=x_col, y_column=y_col, higher_is_better=not lower_is_better, bounds=lohi,
                x_kind=x_kind, material=material, name=file.name,
            )  # fmt: skip
            rows = [v.to_json() for v in verdicts]
            emit(rows, as_json, lambda: "\n".join(_line(r) for r in rows))
            return
        series = read_series(file, x_column=x_col, y_column=y_col)
        report = judge_curve(
            series.x, series.y, higher_is_better=not lower_is_better, bounds=lohi, x_kind=x_kind, material=material,
            x_name=series.x_name, y_name=series.y_name,
        )  # fmt: skip
        forecast = forecast_curve(report, np.linspace(report.horizon.x_from, report.horizon.x_to, 5))
        payload = {"file": str(file), "x": series.x_name, "y": series.y_name, **report.to_json()}
        payload["forecast"] = {
            "x": forecast.x.tolist(),
            "y": forecast.y.tolist(),
            "low": forecast.low.tolist(),
            "high": forecast.high.tolist(),
            "level": forecast.level,
        }
        if target is not None:
            hit = x_for_target(report, target)
            payload["target"] = {
                "y": target,
                "reachable": hit.reachable,
                "x": hit.x,
                "x_low": hit.x_low,
                "x_high": hit.x_high,
                "message": hit.message,
            }

        def text() -> str:
            lines = [
                f"{report.verdict.upper()} (confidence {report.confidence:.0%}): {report.reason}",
                f"best-fitting curve {report.model}; ceiling {_num(report.asymptote)}; headroom {_num(report.headroom)}",
            ]
            if "target" in payload:
                lines.append(payload["target"]["message"])
            return "\n".join(lines)

        emit(payload, as_json, text)

    @group.command("simulate")
    @click.option("--scenario", default=None, metavar="NAME", help="A preset (see --list).")
    @click.option(
        "--weeks", type=click_type(SIM_WEEKS), default=SIM_WEEKS.default, show_default=True, help=SIM_WEEKS.help
    )
    @click.option("--runs", type=click_type(SIM_RUNS), default=SIM_RUNS.default, show_default=True, help=SIM_RUNS.help)
    @click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
    @click.option("--every", type=int, default=1, show_default=True, help="Keep every Nth week in the output.")
    @click.option("--list", "list_only", is_flag=True, help="List the scenarios and exit.")
    @json_option
    def simulate(
        scenario: str | None, weeks: int, runs: int, seed: int, every: int, list_only: bool, as_json: bool
    ) -> None:
        """Simulate a flywheel scenario and judge its median product quality."""
        from flywheel_core.simulate.flywheel import simulate_flywheel
        from flywheel_core.simulate.scenarios import PRESETS, get_preset

        if list_only:
            rows = [{"name": p.name, "expected": p.expected, "story": p.story} for p in PRESETS.values()]
            emit({"scenarios": rows}, as_json, lambda: "\n".join(f"{r['name']:<18} {r['story']}" for r in rows))
            return
        if scenario is None:
            raise DataValidationError(f"Pass --scenario NAME (one of: {', '.join(PRESETS)}) or --list.")
        preset = get_preset(scenario)
        result = simulate_flywheel(preset.params, weeks=weeks, runs=runs, random_state=seed, scenario=preset.name)
        payload = result.to_json(every=every)

        def text() -> str:
            v = result.verdict
            return (
                f"{preset.name}: {v.verdict.upper()} (confidence {v.confidence:.0%}): {v.reason}\n"
                f"after {weeks} weeks (median of {runs} runs): product quality {result.final('product_quality'):.3f}, "
                f"users {result.final('users'):,.0f}, usable rows {result.final('usable_rows'):,.0f}"
            )

        emit(payload, as_json, text)


@click.command("verdict")
@click.argument("dataset")
@click.option("--metric", default=None, metavar="NAME", help="Metric of the versions (default: auc, else the first).")
@click.option(
    "--x",
    "x",
    type=click.Choice(["train_rows", "turn"]),
    default="train_rows",
    show_default=True,
    help="Judge the metric against training rows (per doubling) or against turns (per span).",
)
@click.option(
    "--require",
    type=click.Choice(VERDICTS),
    default=None,
    help="Exit with status 3 unless the verdict is this one: the gate for a CI pipeline.",
)
@workspace_option
@json_option
@click.pass_obj
def verdict_command(
    obj: Context, dataset: str, metric: str | None, x: str, require: str | None, workspace: str | None, as_json: bool
) -> None:
    """Is DATASET's learning compounding? The verdict on its model versions, from their evidence."""
    from flywheel_core.curves.api import judge_dataset

    ws = obj.workspace(workspace)
    judged = judge_dataset(obj.store(), workspace_id=ws.id, dataset=dataset, actor=ACTOR, metric=metric, x=x)
    payload = {"workspace": ws.name, "dataset": dataset, **judged.to_json(), "required": require}
    passed = require is None or judged.verdict == require
    payload["passed"] = passed
    emit(
        payload,
        as_json,
        lambda: (
            f"{dataset}: {judged.verdict.label.upper()} ({judged.confidence:.0%}): {judged.reason}"
            + ("" if passed else f"\nRequired {require}: not met.")
        ),
    )
    if not passed:
        raise click.exceptions.Exit(3)


def _line(row: dict) -> str:  # type: ignore[type-arg]
    if row.get("verdict") is None:
        return f"{row['series']}: not judged: {row['problem']}"
    return f"{row['series']}: {row['verdict'].upper()} ({row['confidence']:.0%}): {row['reason']}"


def _num(value: float | None) -> str:
    return "none" if value is None else f"{value:.4g}"
