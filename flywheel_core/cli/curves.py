"""Commands for compounding vs plateau: `flywheel curve` judges a series, `flywheel simulate` runs a scenario."""

from __future__ import annotations

from pathlib import Path

import click

from flywheel_core.cli._common import emit, json_option
from flywheel_core.exceptions import DataValidationError


def register(group: click.Group) -> None:
    """Add this module's commands to the `flywheel` group."""

    @group.command("curve")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--x", "x_col", default=None, metavar="COL", help="Column of x (default: the first column).")
    @click.option("--y", "y_col", default=None, metavar="COL", help="Column of the metric (default: the second).")
    @click.option("--lower-is-better", is_flag=True, help="The metric is a loss or an error (lower is better).")
    @click.option("--target", type=float, default=None, help="Also say how much x it takes to reach this y.")
    @json_option
    def curve(
        file: Path, x_col: str | None, y_col: str | None, lower_is_better: bool, target: float | None, as_json: bool
    ) -> None:
        """Judge a metric series: compounding, plateau or backward, with a forecast band."""
        import numpy as np

        from flywheel_core.curve_forecast import forecast_curve, x_for_target
        from flywheel_core.curve_sources import read_series
        from flywheel_core.curves import judge_curve

        series = read_series(file, x_column=x_col, y_column=y_col)
        x, y, x_name, y_name = series.x, series.y, series.x_name, series.y_name
        report = judge_curve(x, y, higher_is_better=not lower_is_better)
        xs = report.x
        end = 2 * xs[-1] if xs[0] > 0 else xs[-1] + (xs[-1] - xs[0])
        forecast = forecast_curve(report, np.linspace(xs[-1], end, 5))
        payload = {"file": str(file), "x": x_name, "y": y_name, **report.to_json()}
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
                f"model {report.model}; asymptote {_num(report.asymptote)}; headroom {_num(report.headroom)}",
                f"forecast at x={forecast.x[-1]:.4g}: {forecast.y[-1]:.4g} "
                f"({forecast.level:.0%} band {forecast.low[-1]:.4g} to {forecast.high[-1]:.4g})",
            ]
            if "target" in payload:
                lines.append(payload["target"]["message"])
            return "\n".join(lines)

        emit(payload, as_json, text)

    @group.command("simulate")
    @click.option("--scenario", default=None, metavar="NAME", help="A preset (see --list).")
    @click.option("--weeks", type=int, default=520, show_default=True, help="Weekly steps to simulate.")
    @click.option("--runs", type=int, default=1000, show_default=True, help="Monte Carlo runs.")
    @click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
    @click.option("--every", type=int, default=1, show_default=True, help="Keep every Nth week in the output.")
    @click.option("--list", "list_only", is_flag=True, help="List the scenarios and exit.")
    @json_option
    def simulate(
        scenario: str | None, weeks: int, runs: int, seed: int, every: int, list_only: bool, as_json: bool
    ) -> None:
        """Simulate a flywheel scenario and judge its median product quality."""
        from flywheel_core.scenarios import PRESETS, get_preset
        from flywheel_core.simulate import simulate_flywheel

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


def _num(value: float | None) -> str:
    return "none" if value is None else f"{value:.4g}"
