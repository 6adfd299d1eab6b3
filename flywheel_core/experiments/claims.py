"""The sentences of the experiments, written from their findings: the numbers, then the one claim they allow.

Each experiment has a small table of claims keyed by :func:`~flywheel_core.experiments.effects.claim_key`
("positive", "negative", "no_effect", "inconclusive"); the sentence states the effect with its interval and
ends with the claim its conclusion selects, so it cannot say more than the interval does. The deletion test
reads two findings (the deletion, and pooled vs per-user models): its claims are keyed by both.
"""

from __future__ import annotations

from flywheel_core.experiments.common import Figure, interval_text
from flywheel_core.experiments.effects import Finding, claim_key

__all__ = ["CLAIMS", "NETWORK_CLAIMS", "describe", "network_claim"]

CLAIMS: dict[str, dict[str, str]] = {
    "curation": {
        "positive": "curation pays",
        "negative": "curation costs accuracy here: what it removed carried signal",
        "no_effect": "curation makes no material difference on this log",
        "inconclusive": "cannot tell yet whether curation helps",
    },
    "capture": {
        "positive": "selective capture teaches more per label",
        "negative": "targeting the uncertain examples teaches less than labelling at random",
        "no_effect": "targeting the uncertain examples does no better than chance here",
        "inconclusive": "cannot tell yet whether targeting beats chance",
    },
    "collapse": {
        "positive": "later versions predict what comes next better: the loop is not spinning backward",
        "negative": "each version predicts what comes next worse: the loop spins backward "
        "(it may be feeding on its own outputs, or users drift away from what it learnt)",
        "no_effect": "the loop holds steady: no sign of it spinning backward",
        "inconclusive": "cannot tell yet whether the loop spins backward",
    },
    "weighting": {
        "positive": "optimising clicks is a wrong incentive here: train toward the strong signal",
        "negative": "the model trained toward clicks ranks the strong signal better: more examples beat a sharper target",
        "no_effect": "clicks are a fair proxy for the strong signal here",
        "inconclusive": "cannot tell yet whether clicks are a fair proxy for the strong signal",
    },
    "poisoning": {
        "positive": "the poisoned feedback hurts the other users",
        "negative": "the poisoned model scores better for the other users, which poisoning should not do: "
        "check the cohort and the holdout",
        "no_effect": "this model shrugs off the poisoned feedback",
        "inconclusive": "cannot tell yet whether the poisoning hurts the other users",
    },
}

NETWORK_CLAIMS: dict[str, str] = {
    "network": "other users notice: this is network learning, each user's data improves the others' predictions",
    "harmful": "deleting them raised the others' metric: that cohort's data hurt the others (noisy or "
    "conflicting feedback), so this is no sign that users do not notice each other",
    "saturated": "the others do not notice the deletion, yet the pooled model beats per-user models: learning is "
    "shared but saturated, the remaining users already teach what there is to learn",
    "individual": "the others do not notice the deletion and a per-user model does as well as the pooled one: "
    "learning here is individual",
    "shared_unclear": "the others do not notice the deletion; whether learning is shared is not yet clear",
    "unclear": "cannot tell yet whether other users notice",
}


def network_claim(deletion: Finding, pooled: Finding | None) -> str:
    """The deletion test's claim key from both findings."""
    key = claim_key(deletion)
    if key == "positive":
        return "network"
    if key == "negative":
        return "harmful"
    if key == "inconclusive":
        return "unclear"
    shared = claim_key(pooled) if pooled is not None else "inconclusive"
    if shared == "positive":
        return "saturated"
    if shared in ("negative", "no_effect"):
        return "individual"
    return "shared_unclear"


def _claim(kind: str, finding: Finding) -> str:
    key = claim_key(finding)
    text = CLAIMS[kind][key]
    if key == "inconclusive" and finding.reason:
        text += f" ({finding.reason})"
    return text


def _n(figures: dict[str, Figure], name: str, digits: int = 3) -> str:
    value = figures.get(name)
    return "—" if not isinstance(value, int | float) else f"{value:.{digits}f}"


def _pct(figures: dict[str, Figure], name: str) -> str:
    value = figures.get(name)
    return "—" if not isinstance(value, int | float) else f"{value:.0%}"


def _count(figures: dict[str, Figure], name: str) -> str:
    value = figures.get(name)
    return "—" if not isinstance(value, int | float) else f"{value:,.0f}"


def describe(kind: str, main: Finding, others: dict[str, Finding], figures: dict[str, Figure]) -> str:
    """The sentence of one experiment's result."""
    effect = interval_text(main)
    if kind == "curation":
        return (
            f"Removing bot-like users and exact duplicates ({_count(figures, 'rows_removed')} rows of the log: "
            f"{_count(figures, 'bot_like_users')} bot-like users, {_count(figures, 'duplicate_rows')} duplicate rows; "
            f"heavy users kept) changes the clean users' holdout AUC by {effect}: {_claim(kind, main)}."
        )
    if kind == "capture":
        return (
            f"With {_count(figures, 'label_budget')} labels per turn, spending them on the examples the model is "
            f"least sure about instead of at random changes the holdout AUC by {effect} on average over the "
            f"versions (last version: least sure "
            f"{_n(figures, 'least_sure_auc')}, random {_n(figures, 'random_auc')}, unlimited labels "
            f"{_n(figures, 'unlimited_auc')}): {_claim(kind, main)}."
        )
    if kind == "collapse":
        return (
            f"From the first version to the last, the AUC on what comes next changes by {effect} along the trend "
            f"over {_count(figures, 'versions')} versions; output diversity {_n(figures, 'diversity_first')} → "
            f"{_n(figures, 'diversity_last')}: {_claim(kind, main)}."
        )
    if kind == "weighting":
        return (
            f"Scored on the strong signal ({_count(figures, 'strong_rows')} strong positives in the log), the "
            f"model trained toward it instead of toward every click changes the holdout AUC by {effect}: "
            f"{_claim(kind, main)}."
        )
    if kind == "poisoning":
        recovery = others.get("recovered by curation")
        tail = f"; curation recovers {interval_text(recovery)}" if recovery is not None else ""
        return (
            f"Flipping {_pct(figures, 'flip_share')} of the feedback of {_count(figures, 'cohort_users')} users (in "
            f"each half) changes the other users' holdout AUC, clean minus poisoned, by {effect}{tail}: "
            f"{_claim(kind, main)}."
        )
    if kind == "network":
        pooled = others.get("pooled over per-user")
        key = network_claim(main, pooled)
        claim = NETWORK_CLAIMS[key]
        if key == "unclear" and main.reason:
            claim += f" ({main.reason})"
        return (
            f"Deleting {_pct(figures, 'cohort_share')} of the users' data: the other users' holdout AUC with them "
            f"minus without them is {effect}; the pooled model minus a per-user model (each user's own history "
            f"only) is {interval_text(pooled) if pooled is not None else 'not measured'}: {claim}."
        )
    raise KeyError(kind)
