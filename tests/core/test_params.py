"""Declared parameters: one generated case per declaration, the template, and the CLI reading the same bounds."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest

from flywheel_core.cli import _register
from flywheel_core.cli._common import cli
from flywheel_core.curves.judge import judge_curve
from flywheel_core.curves.terms import XKind
from flywheel_core.exceptions import DataValidationError
from flywheel_core.experiments.api import run_experiment
from flywheel_core.experiments.runner import EXPERIMENTS, capture_experiment, network_experiment
from flywheel_core.learning import api as learning_api
from flywheel_core.learning.api import run_training
from flywheel_core.learning.recommend import RECOMMENDERS
from flywheel_core.learning.scoring import MODELS
from flywheel_core.learning.turns import cut_turns
from flywheel_core.params import (
    EXPERIMENT,
    FEEDBACK_MODEL,
    KNOB_PARAMS,
    N_TURNS,
    PARAMS,
    RECOMMEND_MODEL,
    REPEATS,
    ROLE,
    SIM_RUNS,
    SIM_WEEKS,
    TASK,
    TURN_BY,
    X_KIND,
    Interval,
    Options,
    Pair,
    Param,
    check,
)
from flywheel_core.simulate.flywheel import KNOBS, SimulationParams, knob_value, simulate_flywheel, with_overrides
from flywheel_core.simulate.scenarios import PRESETS
from flywheel_core.storage import repository as repo

TIMES = np.arange(200)
X, Y = [1.0, 2.0, 3.0, 4.0, 5.0], [0.5, 0.6, 0.65, 0.68, 0.7]
STORE: Any = None  # every check comes before the store, the data or the session is touched
Call = Callable[[Any], object]


def _train(**options: Any) -> object:
    return run_training(STORE, workspace_id=1, dataset_name="d", actor="a", **options)


# The core function that declares each parameter, called with the value under test.
CASES: dict[str, Call] = {
    "learning.task": lambda v: _train(task=v),
    "learning.feedback.model": lambda v: _train(task="feedback", model=v),
    "learning.recommend.model": lambda v: _train(task="recommend", model=v),
    "learning.n_turns": lambda v: cut_turns(TIMES, n_turns=v),  # type: ignore[arg-type]
    "learning.by": lambda v: cut_turns(TIMES, n_turns=3, by=v),  # type: ignore[arg-type]
    "learning.holdout_fraction": lambda v: cut_turns(TIMES, n_turns=3, holdout_fraction=v),  # type: ignore[arg-type]
    "learning.min_positives": lambda v: _train(min_positives=v),
    "learning.min_negatives": lambda v: _train(min_negatives=v),
    "learning.recommend.alpha": lambda v: _train(alpha=v),
    "production.material": lambda v: learning_api.production_comparison(
        STORE, workspace_id=1, dataset_name="d", actor="a", material=v
    ),
    "offpolicy.n_bootstrap": lambda v: learning_api.evaluate_offpolicy(
        STORE, workspace_id=1, dataset_name="d", actor="a", policy="p", n_bootstrap=v
    ),
    "experiments.kind": lambda v: run_experiment(STORE, workspace_id=1, dataset_name="d", kind=v, actor="a"),  # type: ignore[arg-type]
    "experiments.repeats": lambda v: EXPERIMENTS["curation"](STORE, STORE, repeats=v),
    "experiments.capture.label_budget": lambda v: capture_experiment(STORE, STORE, label_budget=v),  # type: ignore[arg-type]
    "experiments.network.cohort_share": lambda v: network_experiment(STORE, STORE, cohort_share=v),  # type: ignore[arg-type]
    "experiments.poisoning.flip_share": lambda v: EXPERIMENTS["poisoning"](STORE, STORE, flip_share=v),
    "experiments.poisoning.cohort_share": lambda v: EXPERIMENTS["poisoning"](STORE, STORE, cohort_share=v),
    "curves.x_kind": lambda v: judge_curve(X, Y, x_kind=v),  # type: ignore[arg-type]
    "curves.material": lambda v: judge_curve(X, Y, material=v),  # type: ignore[arg-type]
    "curves.bounds": lambda v: judge_curve(X, Y, bounds=v),  # type: ignore[arg-type]
    "simulate.weeks": lambda v: simulate_flywheel(SimulationParams(), weeks=v, runs=1),  # type: ignore[arg-type]
    "simulate.runs": lambda v: simulate_flywheel(SimulationParams(), weeks=8, runs=v),  # type: ignore[arg-type]
    **{
        knob.key: (lambda v, path=knob.name: with_overrides(SimulationParams(), {path: v}))  # type: ignore[misc, dict-item]
        for knob in KNOB_PARAMS
    },
    "workspaces.role": lambda v: repo.set_membership(session=STORE, workspace_id=1, username="u", role=v, actor="a"),  # type: ignore[arg-type]
}


def invalid_values(param: Param[Any]) -> list[object]:
    """Values just outside each interval, outside each set of options, and of the wrong type."""
    candidates: list[object] = ["many", True, [1, 2, 3]]
    for c in param.constraints:
        if isinstance(c, Interval):
            if c.low is not None:
                candidates.append(c.low - 1 if c.low_closed else c.low)
            if c.high is not None:
                candidates.append(c.high + 1 if c.high_closed else c.high)
            candidates += [math.nan, math.inf] if c.kind is float else [2.5]
        elif isinstance(c, Options):
            candidates += ["no-such-choice", 7]
        elif isinstance(c, Pair):
            candidates += [(1.0, 0.0), (0.0,), (0.0, math.inf)]
    return [v for v in candidates if not param.accepts(v)]


GENERATED = [(key, value) for key, param in PARAMS.items() for value in invalid_values(param)]


def test_every_declared_parameter_has_a_case() -> None:
    assert set(CASES) == set(PARAMS)
    assert all(len(invalid_values(param)) >= 3 for param in PARAMS.values())


@pytest.mark.parametrize(("key", "value"), GENERATED, ids=[f"{k}={v!r}" for k, v in GENERATED])
def test_core_refuses_an_invalid_value_by_the_parameters_name(key: str, value: object) -> None:
    param = PARAMS[key]
    with pytest.raises(DataValidationError, match=f"^The '{re.escape(param.name)}' parameter of ") as caught:
        CASES[key](value)
    assert f"must be {param.describe()}. Got {value!r} instead." in str(caught.value)


def test_check_uses_the_one_template() -> None:
    with pytest.raises(DataValidationError) as caught:
        check(N_TURNS, 0, caller="cut_turns")
    assert (
        str(caught.value) == "The 'n_turns' parameter of cut_turns must be an int in the range [1, 50]. Got 0 instead."
    )
    shares = Param("flip_share", Interval(float, 0, 1, closed="right"))
    assert shares.describe() == "a float in the range (0, 1]" and shares.accepts(1) and not shares.accepts(0)
    assert str(Options(("size", "time", None))) == "a str among {'size', 'time'} or None"
    assert N_TURNS.accepts(np.int64(3)) and not N_TURNS.accepts(3.0) and not N_TURNS.accepts(True)
    assert TURN_BY.options == ("time", "events") and N_TURNS.low == 1 and N_TURNS.high == 50


def test_the_declarations_match_what_the_core_runs() -> None:
    assert EXPERIMENT.options == tuple(EXPERIMENTS)
    assert set(FEEDBACK_MODEL.options) == set(MODELS) and set(RECOMMEND_MODEL.options) == set(RECOMMENDERS)
    assert FEEDBACK_MODEL.default == MODELS[0] and RECOMMEND_MODEL.default in RECOMMENDERS
    assert X_KIND.options == tuple(k.value for k in XKind)
    assert [k.param for k in KNOBS] == list(KNOB_PARAMS)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_lies_within_the_knobs_ranges(name: str) -> None:
    # the page's sliders start at the preset's values, so a preset outside a range would break the page
    assert with_overrides(PRESETS[name].params, {}) == PRESETS[name].params

    outside = [k.path for k in KNOBS if not k.param.accepts(knob_value(PRESETS[name].params, k.path))]
    assert outside == []


@pytest.mark.parametrize("kind", list(EXPERIMENTS))
def test_every_experiment_refuses_an_unknown_model(kind: str) -> None:
    with pytest.raises(DataValidationError, match=f"'model' parameter of {kind}_experiment .*'forest'"):
        EXPERIMENTS[kind](STORE, STORE, model="forest")


# --- the command line reads the same declarations -------------------------------------------------


def _option(command: str, name: str) -> click.Parameter:
    _register()
    found = cli.commands[command]
    return next(p for p in found.params if name in getattr(p, "opts", ()))


@pytest.mark.parametrize(
    ("command", "option", "param"),
    [
        ("train", "--turns", N_TURNS),
        ("train", "--task", TASK),
        ("train", "--by", TURN_BY),
        ("experiment", "--kind", EXPERIMENT),
        ("experiment", "--repeats", REPEATS),
        ("simulate", "--weeks", SIM_WEEKS),
        ("simulate", "--runs", SIM_RUNS),
        ("curve", "--x-kind", X_KIND),
    ],
)
def test_cli_options_take_their_choices_and_ranges_from_params(command: str, option: str, param: Param[Any]) -> None:
    kind = _option(command, option).type
    if isinstance(kind, click.Choice):
        assert tuple(kind.choices) == param.options
    else:
        assert isinstance(kind, click.IntRange) and (kind.min, kind.max) == (param.low, param.high)


def test_cli_role_choices_are_the_declared_roles() -> None:
    _register()
    group = cli.commands["member"]
    assert isinstance(group, click.Group)
    role = next(p for p in group.commands["add"].params if "--role" in getattr(p, "opts", ()))
    assert isinstance(role.type, click.Choice) and tuple(role.type.choices) == ROLE.options


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["train", "Support", "--turns", "0"], "Invalid value for '--turns': 0 is not in the range 1<=x<=50"),
        (["train", "Support", "--by", "weekly"], "Invalid value for '--by'"),
        (["experiment", "Support", "--kind", "magic"], "Invalid value for '--kind'"),
        (["experiment", "Support", "--kind", "capture", "--repeats", "1"], "Invalid value for '--repeats'"),
        (["experiment", "Support", "--kind", "network", "--label-budget", "5"], "--label-budget applies to"),
        (["simulate", "--scenario", "klarna", "--weeks", "2"], "Invalid value for '--weeks'"),
    ],
)
def test_cli_refuses_an_invalid_option_with_a_usage_error(
    args: list[str], says: str, env: dict[str, str], tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flywheel_core.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2 and says in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
