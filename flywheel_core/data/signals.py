"""The signal dictionary: what each logged event means as feedback.

Each event value maps to a kind (explicit: the user rated or corrected; implicit: inferred from
behaviour), a polarity (positive, negative, neutral) and a weight. Rules on the event's ``value`` refine
it, e.g. Spotify's "a stream under 30 s counts as a skip". The JSON form::

    {"events": {"stream": {"kind": "implicit", "polarity": "positive", "weight": 1.0}, ...},
     "rules": [{"event": "stream", "op": "<", "value": 30, "polarity": "negative", "weight": 1.0}]}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from flywheel_core.exceptions import DataValidationError, Problem

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_SIGNALS",
    "KINDS",
    "POLARITIES",
    "SignalDictionary",
    "SignalRule",
    "SignalSpec",
    "confidence_weights",
    "default_dictionary",
    "parse_rule_option",
    "parse_signal_option",
]

KINDS = ("explicit", "implicit")
POLARITIES = ("positive", "negative", "neutral")
_OPS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "==": np.equal}
_POLARITY_SIGN = {"positive": 1, "negative": -1, "neutral": 0}


@dataclass(frozen=True)
class SignalSpec:
    kind: str
    polarity: str
    weight: float = 1.0


@dataclass(frozen=True)
class SignalRule:
    """When ``event`` has ``value <op> threshold``, read it with this polarity and weight instead."""

    event: str
    op: str
    threshold: float
    polarity: str
    weight: float = 1.0


# Defaults for common event names (lower-case, after stripping spaces, dashes and underscores).
DEFAULT_SIGNALS: dict[str, SignalSpec] = {
    "click": SignalSpec("implicit", "positive", 1.0),
    "clicks": SignalSpec("implicit", "positive", 1.0),
    "view": SignalSpec("implicit", "neutral", 0.5),
    "impression": SignalSpec("implicit", "neutral", 0.0),
    "play": SignalSpec("implicit", "positive", 1.0),
    "stream": SignalSpec("implicit", "positive", 1.0),
    "complete": SignalSpec("implicit", "positive", 1.5),
    "like": SignalSpec("explicit", "positive", 2.0),
    "heart": SignalSpec("explicit", "positive", 2.0),
    "thumbsup": SignalSpec("explicit", "positive", 2.0),
    "upvote": SignalSpec("explicit", "positive", 2.0),
    "dislike": SignalSpec("explicit", "negative", 2.0),
    "thumbsdown": SignalSpec("explicit", "negative", 2.0),
    "downvote": SignalSpec("explicit", "negative", 2.0),
    "skip": SignalSpec("implicit", "negative", 1.0),
    "dismiss": SignalSpec("implicit", "negative", 1.0),
    "bounce": SignalSpec("implicit", "negative", 1.0),
    "save": SignalSpec("explicit", "positive", 3.0),
    "bookmark": SignalSpec("explicit", "positive", 3.0),
    "playlistadd": SignalSpec("explicit", "positive", 3.0),
    "share": SignalSpec("explicit", "positive", 3.0),
    "cart": SignalSpec("implicit", "positive", 2.0),
    "carts": SignalSpec("implicit", "positive", 2.0),
    "addtocart": SignalSpec("implicit", "positive", 2.0),
    "purchase": SignalSpec("implicit", "positive", 4.0),
    "order": SignalSpec("implicit", "positive", 4.0),
    "orders": SignalSpec("implicit", "positive", 4.0),
    "accept": SignalSpec("explicit", "positive", 2.0),
    "accepted": SignalSpec("explicit", "positive", 2.0),
    "reject": SignalSpec("explicit", "negative", 2.0),
    "rejected": SignalSpec("explicit", "negative", 2.0),
    "rating": SignalSpec("explicit", "neutral", 2.0),
    "rate": SignalSpec("explicit", "neutral", 2.0),
    "resolved": SignalSpec("implicit", "positive", 1.0),
    "escalated": SignalSpec("implicit", "negative", 1.0),
    "1": SignalSpec("implicit", "positive", 1.0),
    "0": SignalSpec("implicit", "negative", 1.0),
    "true": SignalSpec("implicit", "positive", 1.0),
    "false": SignalSpec("implicit", "negative", 1.0),
}
_RATING_NAMES = {"rating", "rate", "stars", "score"}


def _key(event: str) -> str:
    return re.sub(r"[\s_\-]+", "", str(event).strip().lower())


@dataclass(frozen=True)
class SignalDictionary:
    events: dict[str, SignalSpec]
    rules: tuple[SignalRule, ...] = field(default_factory=tuple)
    version: int = 1  # each re-map of a stored dataset's meanings makes the next version

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "events": {
                name: {"kind": s.kind, "polarity": s.polarity, "weight": s.weight} for name, s in self.events.items()
            },
            "rules": [
                {"event": r.event, "op": r.op, "value": r.threshold, "polarity": r.polarity, "weight": r.weight}
                for r in self.rules
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignalDictionary:
        """Read and check the JSON form.

        Raises:
            DataValidationError: naming the event or rule and what is wrong with it.
        """
        problems: list[Problem] = []
        events: dict[str, SignalSpec] = {}
        for name, spec in (data.get("events") or {}).items():
            try:
                events[str(name)] = _spec(spec.get("kind"), spec.get("polarity"), spec.get("weight", 1.0))
            except (ValueError, AttributeError, TypeError) as exc:
                problems.append(Problem(f"signal '{name}': {exc}"))
        rules = []
        for i, rule in enumerate(data.get("rules") or [], start=1):
            try:
                if rule.get("op") not in _OPS:
                    raise ValueError(f"op must be one of {', '.join(_OPS)}")
                spec = _spec("implicit", rule.get("polarity"), rule.get("weight", 1.0))
                rules.append(
                    SignalRule(str(rule["event"]), rule["op"], float(rule["value"]), spec.polarity, spec.weight)
                )
            except (ValueError, KeyError, AttributeError, TypeError) as exc:
                problems.append(Problem(f"rule {i}: {exc}"))
        if problems:
            raise DataValidationError(
                "The signal dictionary has problems: " + "; ".join(p.describe() for p in problems), problems
            )
        version = data.get("version", 1)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise DataValidationError(f"The signal dictionary's version must be a whole number ≥ 1, got {version!r}.")
        return cls(events=events, rules=tuple(rules), version=version)

    def with_signal(self, event: str, spec: SignalSpec) -> SignalDictionary:
        return SignalDictionary(events={**self.events, event: spec}, rules=self.rules, version=self.version)

    def explain_rules(self) -> list[str]:
        """Each value rule as a sentence, for reports and pages."""
        return [
            f"'{r.event}' with value {r.op} {r.threshold:g} counts as {r.polarity} (weight {r.weight:g})"
            for r in self.rules
        ]

    def annotate(self, events: pd.Series, values: pd.Series | None = None) -> pd.DataFrame:
        """Per row: ``kind`` (explicit/implicit/unknown), ``polarity`` (+1, 0, -1) and ``weight``.

        Vectorised over the distinct event names; rules are applied on ``values``.
        """
        import pandas as pd  # not at import time: the import path of `flywheel ingest` stays pandas-free

        if isinstance(events.dtype, pd.CategoricalDtype):  # stored datasets: no string conversion of every row
            codes = events.cat.codes.to_numpy()
            uniques = [str(u) for u in events.cat.categories]
        else:
            codes, found = pd.factorize(events.astype("str"), use_na_sentinel=True)
            uniques = list(found)
        kind_names = ["explicit", "implicit", "unknown"]
        kinds = np.array(
            [kind_names.index(self.events[u].kind) if u in self.events else 2 for u in uniques] + [2], dtype=np.int8
        )
        signs = np.array([_POLARITY_SIGN[self.events[u].polarity] if u in self.events else 0 for u in uniques] + [0])
        weights = np.array([self.events[u].weight if u in self.events else 0.0 for u in uniques] + [0.0])
        kind = pd.Categorical.from_codes(kinds[codes], categories=pd.Index(kind_names))  # no 5M-row string array
        polarity = signs[codes].astype(np.int8)
        weight = weights[codes].astype(float)
        if self.rules and values is not None:
            vals = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            names = list(uniques)
            for rule in self.rules:
                if rule.event not in names:
                    continue
                with np.errstate(invalid="ignore"):
                    hit = (codes == names.index(rule.event)) & _OPS[rule.op](vals, rule.threshold)
                polarity[hit] = _POLARITY_SIGN[rule.polarity]
                weight[hit] = rule.weight
        return pd.DataFrame({"kind": kind, "polarity": polarity, "weight": weight}, index=events.index)


def _spec(kind: Any, polarity: Any, weight: Any) -> SignalSpec:
    if kind not in KINDS:
        raise ValueError(f"kind must be explicit or implicit, got {kind!r}")
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be positive, negative or neutral, got {polarity!r}")
    w = float(weight)
    if not np.isfinite(w) or w < 0:
        raise ValueError(f"weight must be a finite number ≥ 0, got {weight!r}")
    return SignalSpec(kind, polarity, w)


def default_dictionary(event_names: list[str]) -> SignalDictionary:
    """A dictionary for the events seen, from the defaults for common names (unknown events: neutral)."""
    events: dict[str, SignalSpec] = {}
    rules: list[SignalRule] = []
    scale = _rating_scale(event_names)
    if scale:  # the event column is a rating (1-5 stars, 0-10): high is positive, low negative, not "1 = clicked"
        for name, stars in scale.items():
            top = max(scale.values())
            polarity = "positive" if stars >= 0.8 * top else "negative" if stars <= 0.4 * top else "neutral"
            events[name] = SignalSpec("explicit", polarity, 2.0)
        return SignalDictionary(events=events)
    for name in event_names:
        key = _key(name)
        events[name] = DEFAULT_SIGNALS.get(key, SignalSpec("implicit", "neutral", 0.0))
        if key in _RATING_NAMES:
            rules += [SignalRule(name, ">=", 4, "positive", 2.0), SignalRule(name, "<=", 2, "negative", 2.0)]
        if key in {"stream", "play"}:
            rules.append(SignalRule(name, "<", 30, "negative", 1.0))  # Spotify's 30-second rule
    return SignalDictionary(events=events, rules=tuple(rules))


def _rating_scale(event_names: list[str]) -> dict[str, float]:
    """Event values that are all whole numbers of a 0-10 scale with at least three steps (a rating column)."""
    numbers: dict[str, float] = {}
    for name in event_names:
        text = str(name).strip()
        try:
            value = float(text)
        except ValueError:
            return {}
        if not value.is_integer() or not 0 <= value <= 10:
            return {}
        numbers[name] = value
    return numbers if len(numbers) >= 3 and max(numbers.values()) >= 4 else {}


_RULE = re.compile(
    r"^\s*(?P<event>[^:]+?)\s*:\s*value\s*(?P<op><=|>=|==|<|>)\s*(?P<value>[-+0-9.eE]+)\s*->\s*"
    r"(?P<polarity>positive|negative|neutral)(?::(?P<weight>[-+0-9.eE]+))?\s*$"
)


def parse_rule_option(option: str) -> SignalRule:
    """Parse a value rule such as ``stream: value < 30 -> negative`` or ``purchase: value >= 50 -> positive:4``.

    Raises:
        DataValidationError: the rule does not read as ``EVENT: value OP NUMBER -> POLARITY[:WEIGHT]``.
    """
    match = _RULE.match(option)
    if match is None:
        raise DataValidationError(
            f"--rule {option!r}: expected 'EVENT: value OP NUMBER -> POLARITY[:WEIGHT]' with OP one of "
            f"{', '.join(_OPS)}, e.g. 'stream: value < 30 -> negative' or 'purchase: value >= 50 -> positive:4'."
        )
    try:
        threshold = float(match["value"])
        spec = _spec("implicit", match["polarity"], float(match["weight"]) if match["weight"] else 1.0)
    except ValueError as exc:
        raise DataValidationError(f"--rule {option!r}: {exc}.") from exc
    return SignalRule(match["event"].strip(), match["op"], threshold, spec.polarity, spec.weight)


def parse_signal_option(option: str) -> tuple[str, SignalSpec]:
    """Parse ``EVENT=POLARITY[:WEIGHT][:explicit|implicit]`` from the command line."""
    if "=" not in option:
        raise DataValidationError(
            f"--signal {option!r}: expected EVENT=POLARITY[:WEIGHT][:explicit|implicit], e.g. save=positive:3:explicit."
        )
    event, rest = option.split("=", 1)
    parts = rest.split(":")
    polarity, weight, kind = parts[0], 1.0, "implicit"
    for part in parts[1:]:
        if part in KINDS:
            kind = part
        else:
            try:
                weight = float(part)
            except ValueError as exc:
                raise DataValidationError(f"--signal {option!r}: {part!r} is neither a weight nor a kind.") from exc
    try:
        return event.strip(), _spec(kind, polarity, weight)
    except ValueError as exc:
        raise DataValidationError(f"--signal {option!r}: {exc}.") from exc


def confidence_weights(strength: np.ndarray, alpha: float = 40.0) -> np.ndarray:
    """Confidence of implicit feedback as in Hu, Koren & Volinsky (2008): c = 1 + alpha * r."""
    if alpha < 0:
        raise ValueError("alpha must be ≥ 0")
    return 1.0 + alpha * np.asarray(strength, dtype=float)
