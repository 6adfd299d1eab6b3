"""Declared bounds and choices: every parameter a person sets, declared once, read by core, CLI and widgets.

In the manner of scikit-learn's ``sklearn/utils/_param_validation.py``: small constraint objects
(:class:`Interval`, :class:`Options`, :class:`Pair`), a :class:`Param` declaring a parameter once, and
:func:`check`, which a core function calls first and which raises :class:`DataValidationError` with one
message template::

    The '{name}' parameter of {caller} must be {constraint}. Got {value!r} instead.

The command line builds its ``click.Choice`` / ``click.IntRange`` from the same declarations
(:func:`flywheel_core.cli._common.click_type`), and the pages' widgets read ``options``, ``low``, ``high``
and ``default`` from them, so a bound or a choice list is written in one place. :data:`PARAMS` is the
registry of every declaration; one generated test builds an invalid value for each and checks that the
core refuses it by name. This module imports only the standard library: the command line reads it at start.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from flywheel_core.exceptions import DataValidationError

__all__ = [
    "ALPHA",
    "BOUNDS",
    "EXPERIMENT",
    "FEEDBACK_MODEL",
    "FLIP_SHARE",
    "HOLDOUT_FRACTION",
    "KNOB_PARAMS",
    "LABEL_BUDGET",
    "MATERIAL",
    "MIN_NEGATIVES",
    "MIN_POSITIVES",
    "NETWORK_COHORT_SHARE",
    "N_TURNS",
    "OPE_BOOTSTRAP",
    "PARAMS",
    "POISON_COHORT_SHARE",
    "PRODUCTION_MATERIAL",
    "RECOMMEND_MODEL",
    "REPEATS",
    "ROLE",
    "SIM_RUNS",
    "SIM_WEEKS",
    "TASK",
    "TEMPLATE",
    "TURN_BY",
    "X_KIND",
    "Interval",
    "Options",
    "Pair",
    "Param",
    "check",
    "model_param",
]

T = TypeVar("T")
Closed = Literal["both", "left", "right", "neither"]
TEMPLATE = "The '{name}' parameter of {caller} must be {constraint}. Got {value!r} instead."


def _is_number(value: object, kind: type) -> bool:
    if isinstance(value, bool):  # True is an int to Python, never a count or a share to a person
        return False
    return isinstance(value, numbers.Integral if kind is int else numbers.Real)


def _num(value: float, kind: type) -> str:
    return str(int(value)) if kind is int else f"{value:g}"


# --- constraints ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A finite number of ``kind`` (int or float) between ``low`` and ``high`` (None: no bound on that side).

    ``closed`` says which ends belong to the interval: "both" (default), "left", "right" or "neither".
    A float interval accepts ints too; neither accepts booleans, NaN or infinity.
    """

    kind: type
    low: float | None
    high: float | None
    closed: Closed = "both"

    def __post_init__(self) -> None:
        if self.kind not in (int, float):
            raise TypeError(f"Interval kind must be int or float, not {self.kind!r}")
        if self.closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"closed must be 'both', 'left', 'right' or 'neither', not {self.closed!r}")
        if self.low is not None and self.high is not None and not self.low <= self.high:
            raise ValueError(f"low {self.low} is above high {self.high}")

    @property
    def low_closed(self) -> bool:
        return self.closed in ("both", "left")

    @property
    def high_closed(self) -> bool:
        return self.closed in ("both", "right")

    def accepts(self, value: object) -> bool:
        if not _is_number(value, self.kind):
            return False
        number = float(value)  # type: ignore[arg-type]
        if not math.isfinite(number):
            return False
        if self.low is not None and (number < self.low if self.low_closed else number <= self.low):
            return False
        return not (self.high is not None and (number > self.high if self.high_closed else number >= self.high))

    def __str__(self) -> str:
        kind = "an int" if self.kind is int else "a float"
        left = "[" if self.low is not None and self.low_closed else "("
        right = "]" if self.high is not None and self.high_closed else ")"
        low = "-inf" if self.low is None else _num(self.low, self.kind)
        high = "inf" if self.high is None else _num(self.high, self.kind)
        return f"{kind} in the range {left}{low}, {high}{right}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values: strings, and None where "not given" is a choice of its own."""

    values: tuple[str | None, ...]

    def __post_init__(self) -> None:
        if not self.values or len(set(self.values)) != len(self.values):
            raise ValueError(f"Options need distinct values, got {self.values!r}")

    @property
    def strings(self) -> tuple[str, ...]:
        return tuple(v for v in self.values if v is not None)

    def accepts(self, value: object) -> bool:
        if value is None:
            return None in self.values
        return isinstance(value, str) and value in self.strings

    def __str__(self) -> str:
        parts = []
        if self.strings:
            parts.append("a str among {" + ", ".join(repr(v) for v in self.strings) + "}")
        if None in self.values:
            parts.append("None")
        return " or ".join(parts)


@dataclass(frozen=True)
class Pair:
    """Two finite numbers ``(low, high)`` with low < high, such as a metric's bounds."""

    def accepts(self, value: object) -> bool:
        if not isinstance(value, tuple | list) or len(value) != 2:
            return False
        if not all(_is_number(v, float) and math.isfinite(float(v)) for v in value):
            return False
        return float(value[0]) < float(value[1])

    def __str__(self) -> str:
        return "a pair (low, high) of numbers with low < high"


Constraint = Interval | Options | Pair


# --- declarations -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param(Generic[T]):
    """One declared parameter: its name (as the core function spells it), what it may be, its default and help.

    ``constraint`` is one constraint or a tuple of alternatives (the value must satisfy one of them).
    ``scope`` says where the parameter belongs; ``key`` (scope.name) is unique in :data:`PARAMS`.
    """

    name: str
    constraint: Constraint | tuple[Constraint, ...]
    default: T | None = None
    help: str = ""
    scope: str = ""

    @property
    def key(self) -> str:
        return f"{self.scope}.{self.name}" if self.scope else self.name

    @property
    def constraints(self) -> tuple[Constraint, ...]:
        return self.constraint if isinstance(self.constraint, tuple) else (self.constraint,)

    def accepts(self, value: object) -> bool:
        return any(c.accepts(value) for c in self.constraints)

    def describe(self) -> str:
        """The constraint in words, as the message template uses it."""
        return " or ".join(str(c) for c in self.constraints)

    @property
    def options(self) -> tuple[str, ...]:
        """The string choices (for ``click.Choice``, a selectbox or a segmented control)."""
        found = [c for c in self.constraints if isinstance(c, Options)]
        if not found:
            raise TypeError(f"Parameter {self.key!r} has no options")
        return found[0].strings

    @property
    def interval(self) -> Interval:
        found = [c for c in self.constraints if isinstance(c, Interval)]
        if not found:
            raise TypeError(f"Parameter {self.key!r} has no interval")
        return found[0]

    @property
    def low(self) -> Any:
        """The interval's lower bound (an int for an int interval), for a widget's ``min_value``."""
        interval = self.interval
        if interval.low is None:
            raise TypeError(f"Parameter {self.key!r} has no lower bound")
        return int(interval.low) if interval.kind is int else float(interval.low)

    @property
    def high(self) -> Any:
        """The interval's upper bound (an int for an int interval), for a widget's ``max_value``."""
        interval = self.interval
        if interval.high is None:
            raise TypeError(f"Parameter {self.key!r} has no upper bound")
        return int(interval.high) if interval.kind is int else float(interval.high)


def check(param: Param[Any], value: object, *, caller: str) -> None:
    """Refuse ``value`` for ``param`` unless it satisfies the declaration.

    Raises:
        DataValidationError: with the one template, naming the parameter, the caller and what it must be.
    """
    if not param.accepts(value):
        raise DataValidationError(
            TEMPLATE.format(name=param.name, caller=caller, constraint=param.describe(), value=value)
        )


# --- learning: tasks, models, turns ---------------------------------------------------------------

TASK: Param[str] = Param(
    "task",
    Options(("feedback", "recommend")),
    default="feedback",
    help="feedback: will an interaction get positive feedback? recommend: rank items for each user.",
    scope="learning",
)
FEEDBACK_MODEL: Param[str] = Param(
    "model",
    Options(("logistic", "hgb")),
    default="logistic",
    help="Feedback model: logistic regression or histogram gradient boosting.",
    scope="learning.feedback",
)
RECOMMEND_MODEL: Param[str] = Param(
    "model",
    Options(("svd", "popularity")),
    default="svd",
    help="Recommender: truncated SVD of the interaction matrix, or item popularity.",
    scope="learning.recommend",
)
N_TURNS: Param[int] = Param(
    "n_turns",
    Interval(int, 1, 50),
    default=5,
    help="Number of turns: version k learns from turns 1..k and is scored on turn k+1.",
    scope="learning",
)
TURN_BY: Param[str] = Param(
    "by",
    Options(("time", "events")),
    default="time",
    help="Cut turns of equal time or of equal event counts.",
    scope="learning",
)
HOLDOUT_FRACTION: Param[float] = Param(
    "holdout_fraction",
    Interval(float, 0.05, 0.5),
    default=0.15,
    help="Share of the log, at its end, kept as the fixed final holdout.",
    scope="learning",
)
ALPHA: Param[float] = Param(
    "alpha",
    Interval(float, 0, 1_000),
    default=40.0,
    help="recommend: confidence of implicit feedback, c = 1 + alpha * strength (Hu, Koren & Volinsky 2008).",
    scope="learning.recommend",
)
MIN_POSITIVES: Param[int] = Param(
    "min_positives",
    Interval(int, 1, 10_000),
    default=10,
    help="Positives a window needs before its metrics are scored (fewer: not scored, with the reason).",
    scope="learning",
)
MIN_NEGATIVES: Param[int] = Param(
    "min_negatives",
    Interval(int, 1, 10_000),
    default=10,
    help="Negatives a window needs before its metrics are scored (fewer: not scored, with the reason).",
    scope="learning",
)


def model_param(task: str) -> Param[str]:
    """The model declaration of a task ("feedback" or "recommend")."""
    return RECOMMEND_MODEL if task == "recommend" else FEEDBACK_MODEL


# --- experiments --------------------------------------------------------------------------------------

EXPERIMENT: Param[str] = Param(
    "kind",
    Options(("curation", "capture", "network", "collapse", "weighting", "poisoning")),
    help="Which of the seed's experiments to run.",
    scope="experiments",
)
REPEATS: Param[int] = Param(
    "repeats",
    Interval(int, 2, 50),
    default=5,
    help="Times each experiment runs, each on a random half of the users with a fresh seed; its effect is the "
    "mean over them with a 95% interval.",
    scope="experiments",
)
LABEL_BUDGET: Param[int] = Param(
    "label_budget",
    Interval(int, 2, None),
    default=10,
    help="Examples labelled per turn in the selective-capture experiment.",
    scope="experiments.capture",
)
NETWORK_COHORT_SHARE: Param[float] = Param(
    "cohort_share",
    Interval(float, 0.05, 0.8),
    default=0.5,
    help="Share of users whose data the deletion test removes.",
    scope="experiments.network",
)
FLIP_SHARE: Param[float] = Param(
    "flip_share",
    Interval(float, 0, 1, closed="right"),
    default=0.8,
    help="Share of the cohort's feedback flipped before the holdout.",
    scope="experiments.poisoning",
)
POISON_COHORT_SHARE: Param[float] = Param(
    "cohort_share",
    Interval(float, 0.01, 0.5),
    default=0.15,
    help="Share of users in the poisoning cohort.",
    scope="experiments.poisoning",
)

# --- curves -------------------------------------------------------------------------------------------

X_KIND: Param[str] = Param(
    "x_kind",
    Options(("size", "time", None)),
    help="Data size (judged over three doublings) or time (over the next span); inferred from x's name if not given.",
    scope="curves",
)
MATERIAL: Param[float] = Param(
    "material",
    (Interval(float, 0, None, closed="neither"), Options((None,))),
    help="The gain that matters over the horizon (default: 2 points for a metric in [0, 1], else 10% of its level).",
    scope="curves",
)
BOUNDS: Param[Any] = Param(
    "bounds",
    (Pair(), Options(("infer", None))),
    default="infer",
    help="The metric's bounds (low, high); None for unbounded; 'infer' from its name and values.",
    scope="curves",
)

# --- the simulator ------------------------------------------------------------------------------------

SIM_WEEKS: Param[int] = Param(
    "weeks", Interval(int, 8, 5200), default=520, help="Weekly steps to simulate.", scope="simulate"
)
SIM_RUNS: Param[int] = Param(
    "runs", Interval(int, 1, 100_000), default=1000, help="Monte Carlo runs.", scope="simulate"
)


def _knob(path: str, low: float, high: float, help: str) -> Param[float]:
    return Param(path, Interval(float, low, high), help=help, scope="simulate")


# The simulator's adjustable knobs (dotted paths into SimulationParams); labels and groups are in
# flywheel_core.simulate.flywheel.KNOBS, which reads its ranges from here.
KNOB_PARAMS: tuple[Param[float], ...] = (
    _knob("collection.interactions_per_user_week", 0.5, 100, "How much each user does."),
    _knob("collection.capture_share", 0, 1, "Share of interactions logged."),
    _knob("collection.feedback_share", 0, 1, "Share of logged interactions carrying a usable signal."),
    _knob("storage.usable_share", 0, 1, "Share of captured rows that reach training."),
    _knob("analysis.learning_exponent", 0.02, 1.5, "How fast data turns into quality."),
    _knob("analysis.ceiling", 0.05, 1, "The best quality any amount of data reaches."),
    _knob("analysis.start_quality", 0, 0.95, "Quality before any data."),
    _knob("application.cycle_days", 0.01, 365, "15 minutes ≈ 0.01 days; nine months ≈ 270."),
    _knob("feedback.acquisition_per_quality", 0, 0.1, "Word of mouth driven by quality."),
    _knob("feedback.churn_base", 0, 0.2, "Churn when the product is useless."),
    _knob("feedback.churn_per_quality", 0, 1, "How much quality cuts churn."),
    _knob("network_share", 0, 1, "0 = each user's data helps only them (note-taking)."),
    _knob("curation_share", 0, 1, "Share of data cleaned and labelled with care."),
    _knob("synthetic_share", 0, 1, "Share of training data that is the model's own output."),
    _knob("drift_rate_week", 0, 0.1, "How fast behaviour moves away from old data."),
    _knob("deletion_share_year", 0, 1, "Share of data deleted on request each year."),
    _knob("seed_rows", 0, 1e8, "Rows of expert seed data that never decay."),
)

# --- production evidence and off-policy evaluation ----------------------------------------------------
# Read by learning.api (checked there), the CLI and the In production tab.

PRODUCTION_MATERIAL: Param[float] = Param(
    "material",
    Interval(float, 0, 1, closed="neither"),
    default=0.02,
    help="The difference of positive rate between two versions that matters (0.02: two points).",
    scope="production",
)
OPE_BOOTSTRAP: Param[int] = Param(
    "n_bootstrap",
    Interval(int, 50, 10_000),
    default=500,
    help="Bootstrap resamples of users behind each off-policy interval.",
    scope="offpolicy",
)

# --- workspaces ---------------------------------------------------------------------------------------

ROLE: Param[str] = Param(
    "role",
    Options(("viewer", "editor", "owner")),  # in rank order: each role may do what the ones before it may
    default="editor",
    help="viewer reads; editor also imports, trains and saves maps; owner also manages members.",
    scope="workspaces",
)


def _declare(*params: Param[Any]) -> dict[str, Param[Any]]:
    registry: dict[str, Param[Any]] = {}
    for param in params:
        if param.key in registry:
            raise ValueError(f"Parameter {param.key!r} is declared twice")
        registry[param.key] = param
    return registry


PARAMS: Mapping[str, Param[Any]] = _declare(
    TASK,
    FEEDBACK_MODEL,
    RECOMMEND_MODEL,
    N_TURNS,
    TURN_BY,
    HOLDOUT_FRACTION,
    MIN_POSITIVES,
    MIN_NEGATIVES,
    ALPHA,
    EXPERIMENT,
    REPEATS,
    LABEL_BUDGET,
    NETWORK_COHORT_SHARE,
    FLIP_SHARE,
    POISON_COHORT_SHARE,
    X_KIND,
    MATERIAL,
    BOUNDS,
    SIM_WEEKS,
    SIM_RUNS,
    *KNOB_PARAMS,
    PRODUCTION_MATERIAL,
    OPE_BOOTSTRAP,
    ROLE,
)
