"""Diagnose a loop map: flywheel, feedback loop or broken, and where it drags.

Every rule comes from the seed documents:

- **Missing links.** The loop is Collection → Storage → Analysis → Application → Feedback → Collection.
  A stage that is absent or empty breaks both links that touch it: the verdict is ``broken``.
- **By hand.** "Feedback loops require human intervention at each cycle. Flywheels are self-reinforcing."
  A stage marked ``automated: "no"`` needs a person every cycle: at best a ``feedback_loop``.
- **Network learning.** "A true flywheel has network learning." If deleting one user's data would not be
  noticed by others (note-taking: "that's a product, not a flywheel"), the loop is a ``feedback_loop``
  and the moat is ``individual``.
- **Plateau.** A task whose headroom saturates once the common cases are learnt (Klarna: "they optimized,
  but they didn't compound") is a ``feedback_loop`` that plateaus.
- **The common breaks.** Storage→Analysis not flowing: "data in silos"; Analysis→Application not flowing:
  "insights die in slide decks"; no Feedback link: "you ship but don't know if it worked".
- **Weakest stage.** Weakness in any one stage creates drag for the whole: the lowest health, then done by
  hand, then slowest.
- **Velocity.** Cycle time is the sum of the stages' latencies (the one definition everywhere; the
  end-to-end figure a team enters under Velocity is shown beside it, labelled), placed on the seed's scale:
  Netflix deploys in under 15 minutes; traditional enterprises take 8 to 90 days; some Fortune 100 banks
  nine months.
- **Signals.** Explicit only: biased toward extremes; implicit only: noisy; none: no feedback at all.
- **Risks** without a mitigation are listed, the likeliest and most harmful first.
- **Ownership.** A mapped stage with no owner is a finding of its own: nobody is named to act on what it
  produces, the classic reason insights die in slide decks.

The result types (:class:`LoopDiagnosis`, :class:`LinkStatus`, :class:`Break`) are defined in
:mod:`flywheel_core.loop.findings`, which the Markdown brief reads too; they are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flywheel_core.loop.findings import Break, LinkStatus, LoopDiagnosis, label, link_name, risk_label
from flywheel_core.loop.markdown import render_markdown
from flywheel_core.loop.model import COLD_START, STAGES, LoopMap
from flywheel_core.numbers import hours

__all__ = [
    "LINKS",
    "VELOCITY_BANDS",
    "Break",
    "LinkStatus",
    "LoopDiagnosis",
    "LoopSummary",
    "diagnose",
    "label",
    "link_name",
    "to_markdown",
    "velocity_band",
]

_ORDER = tuple(STAGES)
LINKS: tuple[tuple[str, str], ...] = tuple((s, _ORDER[(i + 1) % len(_ORDER)]) for i, s in enumerate(_ORDER))
_LEVEL = {"low": 1, "medium": 2, "high": 3}
_MANUAL_RANK = {"no": 2, "partly": 1, "yes": 0}

# (key, upper bound in hours, description on the seed's scale)
VELOCITY_BANDS: tuple[tuple[str, float, str], ...] = (
    ("netflix", 0.25, "under 15 minutes, like Netflix's deployments"),
    ("fast", 8 * 24, "faster than traditional enterprises (8-90 days), slower than Netflix (under 15 minutes)"),
    ("enterprise", 90 * 24, "8 to 90 days, like traditional enterprises"),
    ("slow", 180 * 24, "slower than traditional enterprises (over 90 days)"),
    ("bank", float("inf"), "six months or more, like the nine months some Fortune 100 banks take"),
)


def velocity_band(hours: float | None) -> tuple[str, str]:
    """The band key and its description for a cycle time, on the seed's velocity scale."""
    if hours is None:
        return "unknown", "unknown: give each stage a latency in hours"
    for key, upper, text in VELOCITY_BANDS:
        if hours < upper:
            return key, text
    return VELOCITY_BANDS[-1][0], VELOCITY_BANDS[-1][2]


def _links(loop_map: LoopMap) -> tuple[LinkStatus, ...]:
    out = []
    for source, target in LINKS:
        a, b = loop_map.component(source), loop_map.component(target)
        src, dst = label(source), label(target)
        if a.is_empty:
            out.append(LinkStatus(source, target, "missing", f"{src} is not mapped, so nothing reaches {dst}", source))
        elif b.is_empty:
            out.append(
                LinkStatus(source, target, "missing", f"{dst} is not mapped, so {src}'s output goes nowhere", target)
            )
        elif b.automated == "no":
            reason = f"a person must carry {src}'s output into {dst} every cycle"
            out.append(LinkStatus(source, target, "manual", reason, target))
        elif min(a.health or 3, b.health or 3) <= 2:
            weak = source if (a.health or 3) <= (b.health or 3) else target
            reason = f"{label(weak)} is in poor health ({loop_map.component(weak).health}/5)"
            out.append(LinkStatus(source, target, "weak", reason, weak))
        else:
            out.append(LinkStatus(source, target, "ok", "flows", ""))
    return tuple(out)


def _breaks(links: tuple[LinkStatus, ...], loop_map: LoopMap) -> tuple[Break, ...]:
    """The seed's common breaks: a link that does not flow because of the stage the seed blames."""
    by_pair = {(link.source, link.target): link for link in links}
    found = []
    silo = by_pair[("storage", "analysis")]
    if silo.status == "missing" or (silo.status == "weak" and silo.culprit == "storage"):
        found.append(Break("data_in_silos", silo.name, "data in silos", silo.reason))
    deck = by_pair[("analysis", "application")]
    if deck.status in ("missing", "manual") or (deck.status == "weak" and deck.culprit == "application"):
        found.append(Break("insights_die_in_slide_decks", deck.name, "insights die in slide decks", deck.reason))
    if loop_map.component("feedback").is_empty:
        found.append(
            Break(
                "no_feedback",
                link_name("application", "feedback"),
                "you ship but don't know if it worked",
                "no Feedback stage connects what ships back to Collection",
            )
        )
    return tuple(found)


def _weakest(loop_map: LoopMap) -> tuple[str | None, str]:
    def drag(stage: str) -> tuple[int, int, float]:
        c = loop_map.component(stage)
        if c.is_empty:
            return (0, 3, 0.0)
        return (c.health or 3, -_MANUAL_RANK[c.automated], -(c.latency_hours or 0.0))

    stage = min(_ORDER, key=drag)
    c = loop_map.component(stage)
    if c.is_empty:
        return stage, f"{label(stage)} is not mapped at all. Without it: {STAGES[stage].breaks_without}"
    reasons = [f"health {c.health}/5" if c.health is not None else "health not assessed"]
    if c.automated != "yes":
        reasons.append("done by hand every cycle" if c.automated == "no" else "partly by hand")
    if c.latency_hours:
        reasons.append(f"{hours(c.latency_hours)} per cycle")
    return stage, f"{label(stage)} is the drag: {', '.join(reasons)}."


def _signal_warnings(loop_map: LoopMap) -> tuple[str, ...]:
    signals = loop_map.signals
    if not signals:
        return ("No feedback signals at all: the loop cannot learn whether the product got better.",)
    warnings = []
    kinds = {s.kind for s in signals}
    if kinds == {"explicit"}:
        warnings.append(
            "Explicit signals only: simple to interpret but biased, since users tend to rate only extremely "
            "good or bad responses. Add implicit signals (clicks, completions, return visits)."
        )
    if kinds == {"implicit"}:
        warnings.append(
            "Implicit signals only: abundant but noisy. Add an explicit signal (thumbs, accept/reject, save) to "
            "anchor what good means."
        )
    if not any(s.polarity == "negative" for s in signals):
        warnings.append(
            "No negative signal (skip, reject, bounce): the loop hears what works but never what fails, the "
            "way vanity metrics spin a wheel that goes nowhere."
        )
    if all(s.volume_per_day in (None, 0) for s in signals):
        warnings.append("No signal has an expected volume per day: say how much feedback the loop gets.")
    return tuple(warnings)


def _unmitigated(loop_map: LoopMap) -> tuple[str, ...]:
    open_risks = [r for r in loop_map.risks if not r.mitigation.strip()]
    open_risks.sort(key=lambda r: -_LEVEL[r.likelihood] * _LEVEL[r.impact])
    return tuple(f"{risk_label(r.risk)} (likelihood {r.likelihood}, impact {r.impact})" for r in open_risks)


def diagnose(loop_map: LoopMap) -> LoopDiagnosis:
    """Diagnose a loop map (pure: the same map always gives the same diagnosis)."""
    links = _links(loop_map)
    missing = tuple(link for link in links if link.status == "missing")
    mapped = [s for s in _ORDER if not loop_map.component(s).is_empty]
    manual = tuple(s for s in mapped if loop_map.component(s).automated == "no")
    breaks = _breaks(links, loop_map)
    weakest, weakest_reason = _weakest(loop_map)
    latencies = [loop_map.component(s).latency_hours for s in mapped]
    known = [h for h in latencies if h is not None]
    cycle = float(sum(known)) if known else None
    band, band_text = velocity_band(cycle)
    answer = loop_map.network_learning.answer
    moat = {"yes": "network", "no": "individual"}.get(answer, "unknown")
    plateau_reasons = []
    if loop_map.network_learning.headroom == "saturates":
        plateau_reasons.append(
            "the task saturates once the common cases are learnt: it optimises but does not compound"
        )
    if moat == "individual":
        plateau_reasons.append("each user's data improves only their own experience (individual learning)")
    plateau = bool(plateau_reasons)

    if missing:
        verdict = "broken"
        reason = "the loop does not close: " + "; ".join(f"{m.name} ({m.reason})" for m in missing)
    elif manual or plateau:
        verdict = "feedback_loop"
        parts = [f"{label(s)} needs a person every cycle" for s in manual] + plateau_reasons
        reason = "; ".join(parts)
    else:
        verdict = "flywheel"
        reason = "every stage is mapped and runs without a person each cycle"
        reason += (
            ", and each user's data improves the product for everyone"
            if moat == "network"
            else ("; confirm network learning with the deletion test")
        )
    cold = tuple(k for k in COLD_START if loop_map.cold_start.get(k) and loop_map.cold_start[k].used)
    signal_warnings = _signal_warnings(loop_map)
    unmitigated = _unmitigated(loop_map)
    unowned = tuple(s for s in mapped if not loop_map.component(s).owner.strip())
    steps = _next_steps(
        loop_map, missing, manual, breaks, unowned, weakest, moat, plateau, cycle, band, cold, signal_warnings,
        unmitigated,
    )  # fmt: skip
    return LoopDiagnosis(
        verdict=verdict,
        verdict_reason=reason,
        links=links,
        missing_links=missing,
        manual_stages=manual,
        breaks=breaks,
        weakest=weakest,
        weakest_reason=weakest_reason,
        cycle_time_hours=cycle,
        velocity_band=band,
        velocity_text=band_text,
        moat=moat,
        plateau=plateau,
        plateau_reason="; ".join(plateau_reasons),
        cold_start=cold,
        signal_warnings=signal_warnings,
        unmitigated_risks=unmitigated,
        next_steps=steps,
        unowned_stages=unowned,
    )


_BREAK_STEPS = {
    "data_in_silos": "Put the data where every team reads the same snapshot (one shared store, one schema), so "
    "Analysis learns from what production sees instead of each team's own copy.",
    "insights_die_in_slide_decks": "Wire Analysis straight into the product: ship model and ranking changes "
    "through automated rollouts with canaries (Netflix: 4,000+ deployments a day) instead of presenting them.",
    "no_feedback": "Close the loop: measure whether each shipped change made users do better and route that "
    "back into Collection. Ship Tuesday, measure Thursday, iterate Friday.",
}


def _next_steps(
    loop_map: LoopMap,
    missing: tuple[LinkStatus, ...],
    manual: tuple[str, ...],
    breaks: tuple[Break, ...],
    unowned: tuple[str, ...],
    weakest: str | None,
    moat: str,
    plateau: bool,
    cycle: float | None,
    band: str,
    cold: tuple[str, ...],
    signal_warnings: tuple[str, ...],
    unmitigated: tuple[str, ...],
) -> tuple[str, ...]:
    steps: list[str] = []
    for stage in _ORDER:
        if loop_map.component(stage).is_empty:
            info = STAGES[stage]
            steps.append(
                f"Map {info.label}: what here {info.does[0].lower()}{info.does[1:]} Without it: {info.breaks_without}"
            )
    steps += [_BREAK_STEPS[b.key] for b in breaks]
    if unowned:  # right after the breaks: naming an owner is the cheapest fix there is
        names = [label(s) for s in unowned]
        listed = " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]
        steps.append(
            f"Name an owner for {listed}: a stage nobody owns is where insights die, since nobody is asked to act "
            "on what it produces."
        )
    for stage in manual:
        steps.append(
            f"Automate {label(stage)}: it needs a person every cycle, which makes this a feedback loop, not a "
            "flywheel. Spend people only where the model is unsure (Tesla's fleet trigger flags uncertain moments)."
        )
    if weakest and not loop_map.component(weakest).is_empty and weakest not in manual:
        steps.append(f"Strengthen {label(weakest)} first: weakness in any one stage creates drag for the whole loop.")
    if moat == "individual":
        steps.append(
            "Find network learning: today each user's data helps only that user (personalisation is table stakes). "
            "Look for a signal where one user's data improves the product for everyone."
        )
    elif moat == "unknown":
        steps.append(
            "Answer the deletion test: if you deleted one user's data, would other users notice? Measure it on the "
            "Train & compare page (network vs individual learning)."
        )
    if plateau:
        steps.append(
            "Expect a plateau: move toward harder work where more data keeps teaching (Harvey: target complexity, "
            "not volume), and check the curve on the Compounding vs plateau page."
        )
    if band in ("enterprise", "slow", "bank") and cycle is not None:
        slowest = max(
            (s for s in _ORDER if not loop_map.component(s).is_empty),
            key=lambda s: loop_map.component(s).latency_hours or 0.0,
        )
        steps.append(
            f"Cut the cycle time ({hours(cycle)} now, the sum of the stages' latencies; Netflix deploys in under 15 "
            f"minutes): start with {label(slowest)} ({hours(loop_map.component(slowest).latency_hours or 0)})."
        )
    elif band == "unknown":
        steps.append("Give each stage a latency in hours to place the loop on the velocity scale.")
    steps += signal_warnings
    if unmitigated:
        steps.append("Write a mitigation for: " + "; ".join(unmitigated) + ".")
    if not cold:
        steps.append(
            "Plan the cold start: expert seeding, target complexity, building the loop before the data, or "
            "content-based and editorial picks for new items."
        )
    return tuple(steps)


def to_markdown(loop_map: LoopMap) -> str:
    """A readable one-page brief of the map and its diagnosis (the map's JSON is appended for import)."""
    return render_markdown(loop_map, diagnose(loop_map))


@dataclass(frozen=True)
class LoopSummary:
    """One saved map's latest version and its verdict, for overviews and `flywheel loop list`."""

    name: str
    version: int
    author: str
    saved_at: datetime
    verdict: str  # "flywheel" | "feedback_loop" | "broken" | "invalid" (stored content no longer reads)
    moat: str
    weakest: str | None
    cycle_time_hours: float | None
    headline: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "author": self.author,
            "saved_at": self.saved_at.isoformat(),
            "verdict": self.verdict,
            "moat": self.moat,
            "weakest": self.weakest,
            "cycle_time_hours": self.cycle_time_hours,
            "headline": self.headline,
        }
