"""What a training run needs from a dataset, checked before any model is fitted (and before a job is queued).

Each check mirrors a condition the training code itself refuses or cannot score, so a run that passes here
is not refused for the same reason later, and one that fails is told at once, where it was started, in
sentences that say what was wrong and what to do. :class:`Preconditions` is the typed result; the store-side
doors are :func:`flywheel_core.learning.api.check_training` and
:func:`flywheel_core.experiments.api.check_experiment`, and ``run_training`` applies the same checks to the
events it has read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from flywheel_core.data.signals import SignalDictionary
from flywheel_core.exceptions import InsufficientDataError
from flywheel_core.numbers import counted

__all__ = [
    "CHECK_COLUMNS",
    "MIN_RECOMMEND_POSITIVES",
    "REMAP",
    "Preconditions",
    "feedback_problems",
    "max_turns",
    "training_problems",
    "turns_problem",
]

CHECK_COLUMNS = ["user", "item", "timestamp", "event", "value"]  # all a check reads of a dataset
# Where a person changes what the events mean, in the app and on the command line.
REMAP = "Interaction data → Datasets → What the events mean; on the command line, flywheel dataset remap"
MIN_RECOMMEND_POSITIVES = 10  # train_recommend_versions refuses below this many positive interactions


@dataclass(frozen=True)
class Preconditions:
    """What stops an action from working on a dataset: every problem a sentence naming what to do
    (empty when the action can start)."""

    action: str  # "training" or "the capture experiment"
    dataset: str
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def message(self) -> str:
        """The problems as one paragraph (what the page and the command line both show)."""
        return " ".join(self.problems)

    def raise_if_any(self) -> None:
        """Raise the problems as one :class:`InsufficientDataError` (nothing is run or queued)."""
        if self.problems:
            raise InsufficientDataError(self.message)


def _names(events: pd.Series, mask: np.ndarray, limit: int = 3) -> str:
    """The most frequent event names among ``mask`` rows: "'click', 'play' and 2 more"."""
    found = events[mask].astype("str").value_counts()
    shown = [f"'{name}'" for name in found.index[:limit]]
    more = len(found) - len(shown)
    if more:
        return ", ".join(shown) + f" and {more} more"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + f" and {shown[-1]}"


def feedback_problems(events: pd.DataFrame, polarity: np.ndarray, *, dataset: str, purpose: str) -> list[str]:
    """Feedback prediction needs events of both polarities (``polarity`` +1/0/-1 per event)."""
    labelled = polarity != 0
    positive = int(np.count_nonzero(polarity > 0))
    negative = int(np.count_nonzero(polarity < 0))
    if not labelled.any():
        return [
            f"{purpose} needs feedback, and none of the {counted(len(events), 'event')} of '{dataset}' has a "
            "polarity in its signal dictionary. Mark the events that mean success positive and those that mean "
            f"failure negative ({REMAP}), then try again."
        ]
    if negative == 0 or positive == 0:
        side, other = ("positive", "negative") if negative == 0 else ("negative", "positive")
        shown = _names(events["event"], polarity > 0 if negative == 0 else polarity < 0)
        return [
            f"{purpose} learns to tell positive feedback from negative, and every one of the "
            f"{counted(positive + negative, 'feedback event')} of '{dataset}' is {side} ({shown}). Mark some "
            f"events {other} ("
            + ("a skip, a return or a click without a purchase" if negative == 0 else "a purchase, a save or a reply")
            + f") in the signal dictionary ({REMAP}), "
            + (
                "or train the recommend task, which learns from positives alone."
                if negative == 0
                else "or import a log that also records what worked."
            )
        ]
    return []


def max_turns(distinct_times: int) -> int:
    """The most turns :func:`flywheel_core.learning.turns.cut_turns` can make (with the holdout) from this
    many distinct times: it needs two per turn and two for the holdout."""
    return distinct_times // 2 - 1


def _distinct_count(values: np.ndarray) -> int:
    """How many distinct values: a neighbour comparison on the (already time-ordered) array, sorted only if
    it is not (np.unique on a million timestamps costs half a second here)."""
    ordered = np.asarray(values)
    if len(ordered) > 1 and bool((ordered[1:] < ordered[:-1]).any()):
        ordered = np.sort(ordered)
    return int(len(ordered) > 0) + int(np.count_nonzero(ordered[1:] != ordered[:-1]))


def turns_problem(
    time_ns: np.ndarray, *, n_turns: int, dataset: str, examples: str, purpose: str, adjustable: bool = True
) -> str:
    """The sentence refusing ``n_turns`` when the examples' distinct times cannot make them ("" when they can);
    ``adjustable``: the person chose the number of turns (the advice then names the most that can work)."""
    distinct = _distinct_count(time_ns)
    if distinct >= 2 * (n_turns + 1):
        return ""
    most = max_turns(distinct)
    advice = (
        f"Choose {most} turn{'s' if most > 1 else ''} or fewer, or import more events."
        if adjustable and most >= 1
        else "Import more events."
    )
    subject = (
        f"{purpose} in {counted(n_turns, 'turn')}"
        if adjustable
        else f"{purpose}, which cuts the log into {counted(n_turns, 'turn')} and a holdout,"
    )
    return (
        f"{subject} needs at least {2 * (n_turns + 1):,} {examples} at distinct "
        f"times (two per turn and two for the holdout); '{dataset}' has {distinct:,}. {advice}"
    )


def _time_ns(events: pd.DataFrame) -> np.ndarray:
    from flywheel_core.learning.turns import _time_ns as time_ns

    return time_ns(events)


def training_problems(
    events: pd.DataFrame, dictionary: SignalDictionary, *, dataset: str, task: str, n_turns: int
) -> list[str]:
    """Every reason a training run of ``task`` in ``n_turns`` turns cannot work on these events (or none).

    feedback: events of both polarities, and enough distinct times of feedback for the turns.
    recommend: an item column, at least :data:`MIN_RECOMMEND_POSITIVES` positive interactions, on two items
    or more, from at least :data:`flywheel_core.learning.recommend.MIN_USERS` users (below that no window can
    be scored), and enough distinct times of positives for the turns.
    """
    from flywheel_core.learning.recommend import MIN_USERS

    if len(events) == 0:
        return [f"'{dataset}' has no events. Import a log into it first."]
    meaning = dictionary.annotate(events["event"], events.get("value"))
    polarity = meaning["polarity"].to_numpy()
    if task == "feedback":
        problems = feedback_problems(events, polarity, dataset=dataset, purpose="Feedback prediction")
        if not problems:
            turns = turns_problem(
                _time_ns(events)[polarity != 0],
                n_turns=n_turns,
                dataset=dataset,
                examples="feedback events",
                purpose="Training",
            )
            problems += [turns] if turns else []
        return problems
    if "item" not in events.columns:
        return [
            f"Recommendation ranks items, and '{dataset}' has no item column. Import the log again with a "
            "column mapped to the item role, or train the feedback task."
        ]
    positive = polarity > 0
    n_positive = int(np.count_nonzero(positive))
    if n_positive < MIN_RECOMMEND_POSITIVES:
        return [
            f"Recommendation learns from positive interactions and needs at least {MIN_RECOMMEND_POSITIVES}; "
            f"'{dataset}' has {n_positive:,}. Mark the events that mean a user liked an item positive in the "
            f"signal dictionary ({REMAP}), or import more events."
        ]
    problems = []
    items = events["item"][positive]
    n_items = int(items.nunique())
    if n_items < 2:
        problems.append(
            "Recommendation needs positive interactions with at least 2 distinct items to rank; every one of the "
            f"{counted(n_positive, 'positive interaction')} of '{dataset}' is with the same item "
            f"('{items.iloc[0]}'). Map another column to the item role, or train the feedback task."
        )
    users = int(events["user"][positive].nunique())
    if users < MIN_USERS:
        problems.append(
            f"Recommendation is scored over users, and a window with fewer than {MIN_USERS} users who had a "
            f"positive interaction is not scored; '{dataset}' has {counted(users, 'such user')} in all, so no "
            "version could ever be scored. Import a log with more users, or train the feedback task."
        )
    turns = turns_problem(
        _time_ns(events)[positive],
        n_turns=n_turns,
        dataset=dataset,
        examples="positive interactions",
        purpose="Training",
    )
    return problems + ([turns] if turns else [])
