"""Canvas lint: hold a loop map's claims against an interaction dataset.

What the map says on paper is checked against what the log measures:

- a signal listed on the map but absent from the data (and events in the data the map never names);
- a signal whose kind or polarity on the map disagrees with the dataset's signal dictionary;
- claimed volume per day vs measured (events of that name / days the log spans), off by more than 2x;
- feedback coverage implied by the map (the claimed volume of signals with a polarity, over all claimed
  volume) vs measured (share of events that carry a positive or negative signal);
- explicit share implied by the map vs measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flywheel_core.data.analytics import DataProfile
from flywheel_core.data.signals import SignalDictionary
from flywheel_core.loop.model import LoopMap

if TYPE_CHECKING:
    pass

__all__ = ["CanvasLintReport", "LintFinding", "lint_loop"]

VOLUME_TOLERANCE = 2.0  # claimed vs measured within a factor of 2 passes
SHARE_TOLERANCE = 0.15  # shares within 15 percentage points pass


@dataclass(frozen=True)
class LintFinding:
    check: str  # "signal_absent" | "signal_unmapped" | "signal_meaning" | "volume" | "feedback_coverage" | "explicit_share"
    subject: str  # the signal name, or "map"
    claimed: str
    measured: str
    ok: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "subject": self.subject,
            "claimed": self.claimed,
            "measured": self.measured,
            "ok": self.ok,
            "message": self.message,
        }


@dataclass(frozen=True)
class CanvasLintReport:
    map_name: str
    dataset: str
    days: int
    events: int
    findings: tuple[LintFinding, ...]

    @property
    def problems(self) -> tuple[LintFinding, ...]:
        return tuple(f for f in self.findings if not f.ok)

    def to_json(self) -> dict[str, Any]:
        return {
            "map": self.map_name,
            "dataset": self.dataset,
            "days": self.days,
            "events": self.events,
            "problems": len(self.problems),
            "findings": [f.to_json() for f in self.findings],
        }


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _volume(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}/day"


def lint_loop(
    loop_map: LoopMap, profile: DataProfile, dictionary: SignalDictionary, *, dataset: str = ""
) -> CanvasLintReport:
    """Compare a map's claims with a dataset's profile (pure)."""
    days = max(profile.days, 1)
    counts = profile.event_counts
    findings: list[LintFinding] = []
    claimed_names = {s.name for s in loop_map.signals}
    for signal in loop_map.signals:
        if signal.name not in counts:
            findings.append(
                LintFinding(
                    "signal_absent",
                    signal.name,
                    "listed on the map",
                    "0 events",
                    False,
                    f"'{signal.name}' is on the map but never appears in '{dataset}': rename it to the logged event or "
                    "start logging it.",
                )
            )
            continue
        measured = counts[signal.name] / days
        spec = dictionary.events.get(signal.name)
        if spec is not None and (spec.kind, spec.polarity) != (signal.kind, signal.polarity):
            findings.append(
                LintFinding(
                    "signal_meaning",
                    signal.name,
                    f"{signal.kind} {signal.polarity}",
                    f"{spec.kind} {spec.polarity}",
                    False,
                    f"The map reads '{signal.name}' as {signal.kind} {signal.polarity}; the dataset's signal dictionary "
                    f"says {spec.kind} {spec.polarity}. Make them agree.",
                )
            )
        if signal.volume_per_day:
            ratio = measured / signal.volume_per_day
            ok = 1 / VOLUME_TOLERANCE <= ratio <= VOLUME_TOLERANCE
            findings.append(
                LintFinding(
                    "volume",
                    signal.name,
                    _volume(signal.volume_per_day),
                    _volume(measured),
                    ok,
                    "Within a factor of 2."
                    if ok
                    else f"Measured {ratio:.2g}x the claimed volume: update the map or check the logging.",
                )
            )
    for name, count in counts.items():
        if name not in claimed_names:
            findings.append(
                LintFinding(
                    "signal_unmapped",
                    name,
                    "not on the map",
                    _volume(count / days),
                    False,
                    f"'{name}' is logged but the map does not list it: add it to the signal inventory or stop logging it.",
                )
            )
    with_volume = [s for s in loop_map.signals if s.volume_per_day]
    total = sum(s.volume_per_day or 0 for s in with_volume)
    if total > 0:
        claimed_coverage = sum(s.volume_per_day or 0 for s in with_volume if s.polarity != "neutral") / total
        claimed_explicit = sum(s.volume_per_day or 0 for s in with_volume if s.kind == "explicit") / total
        for check, claimed, measured, what in (
            ("feedback_coverage", claimed_coverage, profile.feedback_coverage, "Feedback coverage"),
            ("explicit_share", claimed_explicit, profile.explicit_share, "Explicit share"),
        ):
            ok = abs(claimed - measured) <= SHARE_TOLERANCE
            findings.append(
                LintFinding(
                    check,
                    "map",
                    _share(claimed),
                    _share(measured),
                    ok,
                    f"{what} matches within 15 points."
                    if ok
                    else f"{what} on paper is {_share(claimed)}, measured {_share(measured)}: the map's volumes "
                    "do not describe this log.",
                )
            )
    return CanvasLintReport(loop_map.name, dataset, profile.days, profile.events, tuple(findings))
