"""The loop map: a product's data flywheel mapped on paper, with its JSON form, and checks (the diff of two versions is in :mod:`flywheel_core.loop.diff`).

"Before you write a line of code, map the loop on paper. If you can't complete it on paper, you won't
complete it in production." A :class:`LoopMap` is that paper. Its JSON form (what is stored as a
version, exported and imported) is::

    {
      "name": "Spotify — music recommendations",        # required, 1-120 characters
      "product": "Discover Weekly",
      "components": {                                    # keys: collection, storage, analysis,
        "collection": {                                  #       application, feedback (absent = not mapped)
          "description": "...", "system": "...", "owner": "...",
          "automated": "yes" | "partly" | "no",
          "latency_hours": 0.1 | null,                   # number ≥ 0
          "health": 1..5 | null,                         # 1 broken, 5 strong
          "evidence": "..."
        }, ...
      },
      "signals": [{"name": "skip", "kind": "explicit" | "implicit",
                   "polarity": "positive" | "negative" | "neutral", "weight": 1.0,
                   "volume_per_day": 1e9 | null, "known_bias": "...",
                   "rule": "a stream under 30 s counts as a skip"}],
      "network_learning": {"answer": "yes" | "no" | "unsure", "why": "...",
                           "headroom": "grows" | "saturates" | "unsure"},
      "cold_start": {"expert_seeding": {"used": true, "notes": "..."}, ...},   # keys: COLD_START
      "risks": [{"risk": "model_collapse", "likelihood": "low" | "medium" | "high",
                 "impact": "low" | "medium" | "high", "mitigation": "..."}],
      "velocity": {"event_to_production_hours": 24 | null, "deploys_per_week": 5 | null}
    }

``headroom`` asks whether more data keeps teaching (the task gets richer as you grow, as with Harvey's
complex legal work) or saturates once the common cases are learnt (Klarna's routine queries).
:meth:`LoopMap.from_json` checks every field and raises :class:`DataValidationError` naming each bad
field (``components.storage.health: ...``); ``LoopMap.from_json(m.to_json()) == m`` always holds.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from flywheel_core.exceptions import DataValidationError, Problem
from flywheel_core.limits import MAX_LOOP_FILE_BYTES, MAX_LOOP_LIST_ITEMS, check_file_size
from flywheel_core.loop.seeds import read_templates

__all__ = [
    "AUTOMATION",
    "COLD_START",
    "HEADROOM",
    "LEVELS",
    "NETWORK_ANSWERS",
    "RISKS",
    "STAGES",
    "TEMPLATES",
    "ColdStartStrategy",
    "Component",
    "LoopMap",
    "NetworkLearning",
    "Risk",
    "Signal",
    "StageInfo",
    "Velocity",
    "empty_map",
    "read_loop_file",
    "template_map",
]


@dataclass(frozen=True)
class StageInfo:
    label: str
    does: str  # what the seed says the stage does
    breaks_without: str  # what the seed says breaks without it


STAGES: dict[str, StageInfo] = {
    "collection": StageInfo(
        "Collection",
        "Captures signals from production systems and user interactions.",
        "You train on static data that doesn't reflect real usage. Tesla's 2M+ vehicles capture "
        '"Autopilot Snapshot" clips of edge cases automatically.',
    ),
    "storage": StageInfo(
        "Storage",
        "Keeps data accessible across teams with organization for rapid retrieval.",
        "Siloed data means different teams train on different snapshots, creating model drift.",
    ),
    "analysis": StageInfo(
        "Analysis",
        "Transforms raw data into actionable insights.",
        "Data accumulates but you don't learn from it. Spotify runs 520 experiments on mobile home screen "
        "alone each year.",
    ),
    "application": StageInfo(
        "Application",
        "Translates insights into product improvements.",
        "Insights die in slide decks. Netflix handles 4,000+ daily deployments with automated canary rollouts.",
    ),
    "feedback": StageInfo(
        "Feedback",
        "Connects application back to collection.",
        "You ship improvements but don't know if they worked. Does better output generate more data?",
    ),
}
AUTOMATION = ("yes", "partly", "no")
NETWORK_ANSWERS = ("yes", "no", "unsure")
HEADROOM = ("grows", "saturates", "unsure")
LEVELS = ("low", "medium", "high")
KINDS = ("explicit", "implicit")
POLARITIES = ("positive", "negative", "neutral")
COLD_START: dict[str, str] = {
    "expert_seeding": "Expert seeding over data hoarding (Harvey hired lawyers to define workflows)",
    "target_complexity": "Target complexity, not volume (complex work yields more valuable training data)",
    "loop_before_data": "Build the loop before you have data (ship Tuesday, measure Thursday)",
    "content_based": "Content-based or editorial for new items (Spotify's editorial playlists, Fresh Finds)",
    "synthetic_data": "Synthetic data to fill gaps (beware model collapse)",
}
RISKS: dict[str, str] = {
    "commoditized_models": "Commoditized models: competitors can use the same model",
    "privacy_deletion": "Privacy regulation and deletion (GDPR limits what can be stored and trained on)",
    "data_poisoning": "Data poisoning: users game the feedback",
    "distribution_shift": "Distribution shift: behaviour changes faster than the loop spins",
    "synthetic_data_competition": "Synthetic-data competition: rivals generate equivalent data",
    "model_collapse": "Model collapse: training on the model's own outputs",
    "data_without_curation": "Data without curation: noise, not signal",
    "wrong_incentives": "Wrong incentives: optimising the wrong metric",
}
MAX_TEXT = 2_000


@dataclass(frozen=True)
class Component:
    description: str = ""
    system: str = ""
    owner: str = ""
    automated: str = "no"
    latency_hours: float | None = None
    health: int | None = None
    evidence: str = ""

    @property
    def is_empty(self) -> bool:
        """Nothing says what this stage is: it counts as absent."""
        return not any(s.strip() for s in (self.description, self.system, self.owner, self.evidence))


@dataclass(frozen=True)
class Signal:
    name: str
    kind: str = "implicit"
    polarity: str = "positive"
    weight: float = 1.0
    volume_per_day: float | None = None
    known_bias: str = ""
    rule: str = ""


@dataclass(frozen=True)
class NetworkLearning:
    answer: str = "unsure"  # "If you deleted one user's data, would other users notice?"
    why: str = ""
    headroom: str = "unsure"


@dataclass(frozen=True)
class ColdStartStrategy:
    used: bool = False
    notes: str = ""


@dataclass(frozen=True)
class Risk:
    risk: str
    likelihood: str = "medium"
    impact: str = "medium"
    mitigation: str = ""


@dataclass(frozen=True)
class Velocity:
    event_to_production_hours: float | None = None
    deploys_per_week: float | None = None


def _all_components() -> dict[str, Component]:
    return {stage: Component() for stage in STAGES}


def _all_cold_start() -> dict[str, ColdStartStrategy]:
    return {key: ColdStartStrategy() for key in COLD_START}


@dataclass(frozen=True)
class LoopMap:
    """A loop map; see the module docstring for its JSON form."""

    name: str
    product: str = ""
    components: dict[str, Component] = field(default_factory=_all_components)
    signals: tuple[Signal, ...] = ()
    network_learning: NetworkLearning = field(default_factory=NetworkLearning)
    cold_start: dict[str, ColdStartStrategy] = field(default_factory=_all_cold_start)
    risks: tuple[Risk, ...] = ()
    velocity: Velocity = field(default_factory=Velocity)

    def component(self, stage: str) -> Component:
        return self.components.get(stage, Component())

    def to_json(self) -> dict[str, Any]:
        components = {**_all_components(), **self.components}
        cold = {**_all_cold_start(), **self.cold_start}
        return {
            "name": self.name,
            "product": self.product,
            "components": {stage: _fields(components[stage]) for stage in STAGES},
            "signals": [_fields(s) for s in self.signals],
            "network_learning": _fields(self.network_learning),
            "cold_start": {key: _fields(cold[key]) for key in COLD_START},
            "risks": [_fields(r) for r in self.risks],
            "velocity": _fields(self.velocity),
        }

    def to_json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, data: Any) -> LoopMap:
        """Read and check the JSON form.

        Raises:
            DataValidationError: one :class:`Problem` per bad field, its ``column`` the field's path.
        """
        return _Reader().read(data)

    @classmethod
    def from_json_text(cls, text: str | bytes) -> LoopMap:
        """Parse JSON text (or a Markdown brief exported by :func:`flywheel_core.loop.diagnosis.to_markdown`)."""
        check_file_size(
            text.encode("utf-8") if isinstance(text, str) else text,
            limit=MAX_LOOP_FILE_BYTES,
            what="a loop map file",
            name="The file",
            hint="Export the map from Flywheel Studio again; a real map is a few kilobytes.",
        )
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise DataValidationError("The file is not UTF-8 text; export the map as JSON and try again.") from exc
        embedded = re.search(r"```json\s*\n(.*?)\n```", text, flags=re.S)
        if embedded and not text.lstrip().startswith("{"):
            text = embedded.group(1)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataValidationError(
                f"The file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}). "
                "Export a map from Flywheel Studio to see the expected form."
            ) from exc
        return cls.from_json(data)


def _fields(obj: Any) -> dict[str, Any]:
    return dict(obj.__dict__)


def empty_map(name: str = "My loop") -> LoopMap:
    return LoopMap(name=name)


def template_map(key: str) -> LoopMap:
    """The loop map of one seed case (see :data:`TEMPLATES`)."""
    if key not in _TEMPLATE_JSON:
        raise DataValidationError(f"No template named '{key}'. Choose one of: {', '.join(TEMPLATES)}.")
    return LoopMap.from_json(_TEMPLATE_JSON[key])


def read_loop_file(path: Any) -> LoopMap:
    """Read a map from a JSON (or exported Markdown) file."""
    from pathlib import Path

    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DataValidationError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    return LoopMap.from_json_text(raw)


class _Reader:
    """Collects every problem of a JSON map before raising."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, path: str, problem: str) -> None:
        self.problems.append(Problem(problem, column=path))

    def read(self, data: Any) -> LoopMap:
        if not isinstance(data, dict):
            raise DataValidationError(
                f"A loop map is a JSON object with a 'name' and 'components'; got {type(data).__name__}.",
                [Problem("expected a JSON object", column="(top level)")],
            )
        known = {"name", "product", "components", "signals", "network_learning", "cold_start", "risks", "velocity"}
        for key in sorted(set(data) - known):
            self.fail(str(key), f"unknown field (expected one of: {', '.join(sorted(known))})")
        name = self.text(data, "name", "name", required=True, limit=120)
        product = self.text(data, "product", "product")
        components = _all_components()
        for stage, raw in self.mapping(data, "components", "components", STAGES).items():
            components[stage] = self.component(raw, f"components.{stage}")
        signals = tuple(
            self.signal(raw, f"signals[{i}]") for i, raw in enumerate(self.listing(data, "signals", "signals"))
        )
        self.unique([s.name for s in signals], "signals", "name")
        network = self.network(self.obj(data, "network_learning", "network_learning"))
        cold = _all_cold_start()
        for key, raw in self.mapping(data, "cold_start", "cold_start", COLD_START).items():
            cold[key] = self.cold(raw, f"cold_start.{key}")
        risks = tuple(self.risk(raw, f"risks[{i}]") for i, raw in enumerate(self.listing(data, "risks", "risks")))
        self.unique([r.risk for r in risks], "risks", "risk")
        velocity_raw = self.obj(data, "velocity", "velocity")
        self.no_extra(velocity_raw, "velocity", {"event_to_production_hours", "deploys_per_week"})
        velocity = Velocity(
            self.number(velocity_raw, "event_to_production_hours", "velocity.event_to_production_hours"),
            self.number(velocity_raw, "deploys_per_week", "velocity.deploys_per_week"),
        )
        if self.problems:
            shown = "; ".join(p.describe() for p in self.problems[:6])
            more = f" (and {len(self.problems) - 6} more)" if len(self.problems) > 6 else ""
            raise DataValidationError(
                f"The loop map has {len(self.problems)} problem{'s' if len(self.problems) > 1 else ''}: "
                f"{shown}{more}. Fix the file and import it again; nothing was saved.",
                self.problems,
            )
        return LoopMap(name, product, components, signals, network, cold, risks, velocity)

    # --- field readers ---------------------------------------------------------------------------

    def text(self, data: dict[str, Any], key: str, path: str, *, required: bool = False, limit: int = MAX_TEXT) -> str:
        value = data.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.fail(path, f"must be text, got {type(value).__name__}")
            return ""
        if required and not value.strip():
            self.fail(path, "is required and cannot be empty")
        if len(value) > limit:
            self.fail(path, f"is {len(value):,} characters long; the limit is {limit:,}")
        return value

    def choice(self, data: dict[str, Any], key: str, path: str, options: tuple[str, ...], default: str) -> str:
        value = data.get(key, default)
        if value not in options:
            self.fail(path, f"must be one of {', '.join(repr(o) for o in options)}, got {value!r}")
            return default
        return str(value)

    def number(self, data: dict[str, Any], key: str, path: str, *, default: float | None = None) -> Any:
        value = data.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            self.fail(path, f"must be a number ≥ 0 (or null), got {value!r}")
            return default
        return value

    def obj(self, data: dict[str, Any], key: str, path: str) -> dict[str, Any]:
        value = data.get(key) or {}
        if not isinstance(value, dict):
            self.fail(path, f"must be an object, got {type(value).__name__}")
            return {}
        return value

    def mapping(self, data: dict[str, Any], key: str, path: str, allowed: Any) -> dict[str, dict[str, Any]]:
        value = self.obj(data, key, path)
        out = {}
        for name, raw in value.items():
            if name not in allowed:
                self.fail(f"{path}.{name}", f"unknown key (expected one of: {', '.join(allowed)})")
            elif raw is not None and not isinstance(raw, dict):
                self.fail(f"{path}.{name}", f"must be an object, got {type(raw).__name__}")
            else:
                out[name] = raw or {}
        return out

    def listing(self, data: dict[str, Any], key: str, path: str) -> list[Any]:
        value = data.get(key) or []
        if not isinstance(value, list):
            self.fail(path, f"must be a list, got {type(value).__name__}")
            return []
        if len(value) > MAX_LOOP_LIST_ITEMS:
            self.fail(path, f"has {len(value):,} entries; a map can have at most {MAX_LOOP_LIST_ITEMS}")
            return []
        good = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                good.append(item)
            else:
                self.fail(f"{path}[{i}]", f"must be an object, got {type(item).__name__}")
        return good

    def no_extra(self, data: dict[str, Any], path: str, allowed: set[str]) -> None:
        for key in sorted(set(data) - allowed):
            self.fail(f"{path}.{key}", f"unknown field (expected one of: {', '.join(sorted(allowed))})")

    def unique(self, names: list[str], path: str, key: str) -> None:
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                self.fail(f"{path}[{i}].{key}", f"{name!r} is listed twice")
            seen.add(name)

    def component(self, raw: dict[str, Any], path: str) -> Component:
        self.no_extra(raw, path, set(Component.__dataclass_fields__))
        health = raw.get("health")
        if health is not None and (isinstance(health, bool) or health not in (1, 2, 3, 4, 5)):
            self.fail(f"{path}.health", f"must be a whole number from 1 (broken) to 5 (strong), got {health!r}")
            health = None
        return Component(
            description=self.text(raw, "description", f"{path}.description"),
            system=self.text(raw, "system", f"{path}.system"),
            owner=self.text(raw, "owner", f"{path}.owner"),
            automated=self.choice(raw, "automated", f"{path}.automated", AUTOMATION, "no"),
            latency_hours=self.number(raw, "latency_hours", f"{path}.latency_hours"),
            health=health,
            evidence=self.text(raw, "evidence", f"{path}.evidence"),
        )

    def signal(self, raw: dict[str, Any], path: str) -> Signal:
        self.no_extra(raw, path, set(Signal.__dataclass_fields__))
        weight = self.number(raw, "weight", f"{path}.weight", default=1.0)
        return Signal(
            name=self.text(raw, "name", f"{path}.name", required=True, limit=120),
            kind=self.choice(raw, "kind", f"{path}.kind", KINDS, "implicit"),
            polarity=self.choice(raw, "polarity", f"{path}.polarity", POLARITIES, "positive"),
            weight=1.0 if weight is None else weight,
            volume_per_day=self.number(raw, "volume_per_day", f"{path}.volume_per_day"),
            known_bias=self.text(raw, "known_bias", f"{path}.known_bias"),
            rule=self.text(raw, "rule", f"{path}.rule"),
        )

    def network(self, raw: dict[str, Any]) -> NetworkLearning:
        self.no_extra(raw, "network_learning", set(NetworkLearning.__dataclass_fields__))
        return NetworkLearning(
            answer=self.choice(raw, "answer", "network_learning.answer", NETWORK_ANSWERS, "unsure"),
            why=self.text(raw, "why", "network_learning.why"),
            headroom=self.choice(raw, "headroom", "network_learning.headroom", HEADROOM, "unsure"),
        )

    def cold(self, raw: dict[str, Any], path: str) -> ColdStartStrategy:
        self.no_extra(raw, path, {"used", "notes"})
        used = raw.get("used", False)
        if not isinstance(used, bool):
            self.fail(f"{path}.used", f"must be true or false, got {used!r}")
            used = False
        return ColdStartStrategy(used=used, notes=self.text(raw, "notes", f"{path}.notes"))

    def risk(self, raw: dict[str, Any], path: str) -> Risk:
        self.no_extra(raw, path, set(Risk.__dataclass_fields__))
        return Risk(
            risk=self.text(raw, "risk", f"{path}.risk", required=True, limit=120),
            likelihood=self.choice(raw, "likelihood", f"{path}.likelihood", LEVELS, "medium"),
            impact=self.choice(raw, "impact", f"{path}.impact", LEVELS, "medium"),
            mitigation=self.text(raw, "mitigation", f"{path}.mitigation"),
        )


# The seed templates, one file each in flywheel_core/loop/templates/ (see flywheel_core.loop.seeds), read and
# checked once on import: a malformed file stops here with its name and the bad field.
_TEMPLATE_JSON: dict[str, dict[str, Any]] = read_templates(check=LoopMap.from_json)
TEMPLATES: tuple[str, ...] = tuple(_TEMPLATE_JSON)
