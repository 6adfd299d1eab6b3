"""What a diagnosis of a loop map finds: each link's status, the common breaks, and the verdict.

These are the typed results :func:`flywheel_core.loop.diagnosis.diagnose` returns and the Markdown brief
(:mod:`flywheel_core.loop.markdown`) renders; they live apart from both so that neither imports the other back.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from flywheel_core.loop.model import COLD_START, RISKS, STAGES

__all__ = [
    "NO_OWNER_WHY",
    "Break",
    "LinkStatus",
    "LoopDiagnosis",
    "LoopVerdict",
    "cold_start_label",
    "label",
    "link_name",
    "risk_label",
]

NO_OWNER_WHY = "nobody is named to act on what this stage produces, the classic reason insights die in slide decks"
"""Why a stage without an owner is a finding, said the same way in the app, the brief and the CLI."""


class LoopVerdict(StrEnum):
    """What a loop map is; ``label`` is how people read it, ``headline`` how a sentence starts with it."""

    FLYWHEEL = "flywheel"
    FEEDBACK_LOOP = "feedback_loop"
    BROKEN = "broken"
    INVALID = "invalid"  # stored content that no longer reads as a loop map

    @property
    def label(self) -> str:
        return {
            "flywheel": "Flywheel",
            "feedback_loop": "Feedback loop",
            "broken": "Broken loop",
            "invalid": "Unreadable map",
        }[self.value]

    @property
    def headline(self) -> str:
        return {
            "flywheel": "A flywheel",
            "feedback_loop": "A feedback loop",
            "broken": "A broken loop",
            "invalid": "An unreadable map",
        }[self.value]


def label(stage: str) -> str:
    return STAGES[stage].label


def link_name(source: str, target: str) -> str:
    return f"{label(source)}→{label(target)}"


def _short(text: str) -> str:
    return text.split(" (")[0].split(":")[0]


def risk_label(key: str) -> str:
    """A risk's name for people ("Model collapse"); a risk typed as free text is its own name."""
    return _short(RISKS[key]) if key in RISKS else key


def cold_start_label(key: str) -> str:
    """A cold-start strategy's name for people ("Expert seeding over data hoarding")."""
    return _short(COLD_START[key]) if key in COLD_START else key


@dataclass(frozen=True)
class LinkStatus:
    source: str
    target: str
    status: str  # "ok" | "weak" | "manual" | "missing"
    reason: str
    culprit: str = ""  # the stage that holds the link back

    @property
    def name(self) -> str:
        return link_name(self.source, self.target)

    def to_json(self) -> dict[str, str]:
        return {"link": self.name, "status": self.status, "reason": self.reason}


@dataclass(frozen=True)
class Break:
    key: str  # "data_in_silos" | "insights_die_in_slide_decks" | "no_feedback"
    link: str  # "Storage→Analysis"
    name: str  # the seed's words
    why: str

    def to_json(self) -> dict[str, str]:
        return {"key": self.key, "link": self.link, "name": self.name, "why": self.why}


@dataclass(frozen=True)
class LoopDiagnosis:
    verdict: str  # "flywheel" | "feedback_loop" | "broken"
    verdict_reason: str
    links: tuple[LinkStatus, ...]
    missing_links: tuple[LinkStatus, ...]
    manual_stages: tuple[str, ...]
    breaks: tuple[Break, ...]
    weakest: str | None
    weakest_reason: str
    cycle_time_hours: float | None
    velocity_band: str  # a key of VELOCITY_BANDS, or "unknown"
    velocity_text: str
    moat: str  # "network" | "individual" | "unknown"
    plateau: bool
    plateau_reason: str
    cold_start: tuple[str, ...]  # strategies in use
    signal_warnings: tuple[str, ...]
    unmitigated_risks: tuple[str, ...]
    next_steps: tuple[str, ...]
    unowned_stages: tuple[str, ...] = ()  # mapped stages with no owner named, in loop order

    @property
    def ownership_findings(self) -> tuple[str, ...]:
        """One sentence per stage nobody owns: "Analysis has no owner: ..." (empty when every stage has one)."""
        return tuple(f"{label(stage)} has no owner: {NO_OWNER_WHY}" for stage in self.unowned_stages)

    @property
    def headline(self) -> str:
        return f"{LoopVerdict(self.verdict).headline}: {self.verdict_reason}"

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "verdict_reason": self.verdict_reason,
            "missing_links": [link.to_json() for link in self.missing_links],
            "links": [link.to_json() for link in self.links],
            "manual_stages": list(self.manual_stages),
            "breaks": [b.to_json() for b in self.breaks],
            "weakest": self.weakest,
            "weakest_reason": self.weakest_reason,
            "cycle_time_hours": self.cycle_time_hours,
            "velocity_band": self.velocity_band,
            "velocity_text": self.velocity_text,
            "moat": self.moat,
            "plateau": self.plateau,
            "plateau_reason": self.plateau_reason,
            "cold_start": list(self.cold_start),
            "signal_warnings": list(self.signal_warnings),
            "unmitigated_risks": list(self.unmitigated_risks),
            "next_steps": list(self.next_steps),
            "unowned_stages": list(self.unowned_stages),
        }
