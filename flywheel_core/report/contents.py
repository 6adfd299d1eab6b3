"""What the workspace report says: its typed contents, and the facts both renderings state in words.

:func:`flywheel_core.report.api.build_report` fills these from the store; :mod:`flywheel_core.report.html`
and :mod:`flywheel_core.report.markdown` render them and import nothing else of the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flywheel_core.loop.findings import LoopVerdict
from flywheel_core.numbers import count, counted, percent, significant, when

if TYPE_CHECKING:
    import pandas as pd

    from flywheel_core.curves.judge import CurveReport
    from flywheel_core.data.analytics import ActivityResult, DataProfile
    from flywheel_core.loop.diagnosis import LoopDiagnosis, LoopSummary

__all__ = [
    "LOOP_VERDICT_WORDS",
    "MAX_METRIC_COLUMNS",
    "SECTIONS",
    "DatasetSection",
    "LoopSection",
    "VersionRow",
    "WorkspaceReport",
    "learning_word",
    "profile_rows",
    "summary_line",
    "verdict_sentence",
    "version_rows",
]

SECTIONS: tuple[str, ...] = ("Summary", "Loop diagnosis", "Data profile", "Model versions and verdict")
LOOP_VERDICT_WORDS: Mapping[str, str] = {v.value: v.label for v in LoopVerdict}
MAX_METRIC_COLUMNS = 4


@dataclass(frozen=True)
class LoopSection:
    """One loop map's latest version and its full diagnosis (None when the stored map no longer reads)."""

    summary: LoopSummary
    diagnosis: LoopDiagnosis | None
    product: str


@dataclass(frozen=True)
class VersionRow:
    """One model version as the report shows it: its scored metrics with their 95% intervals, the reason
    for each one not scored, the holdout's counts, its time in UTC."""

    version: int
    turn: int
    train_rows: int
    task: str
    algorithm: str
    train_seconds: float
    author: str
    created_at: datetime
    metrics: Mapping[str, float]
    intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    unscored: Mapping[str, str] = field(default_factory=dict)
    holdout_rows: int | None = None
    holdout_positives: int | None = None

    def cell(self, metric: str) -> str:
        """The metric for a table cell: "0.712 (0.559–0.828)", or "not scored" when the window was too thin."""
        value = self.metrics.get(metric)
        if value is None:
            return "not scored" if metric in self.unscored else "—"
        if metric in self.intervals:
            low, high = self.intervals[metric]
            return f"{significant(value)} ({significant(low)}–{significant(high)})"
        return significant(value)


@dataclass(frozen=True)
class DatasetSection:
    """One dataset: its profile and charts' data, its model versions and the learning-curve verdict."""

    name: str
    source_name: str
    rows: int
    profile: DataProfile | None
    profile_note: str  # why there is no profile, when there is none
    activity: ActivityResult | None
    signal_weeks: pd.DataFrame | None  # period, signal, events (weekly, by signal class)
    versions: tuple[VersionRow, ...]
    metrics: tuple[str, ...]  # the versions' numeric metrics, preferred first
    metric: str | None  # the metric the verdict judges
    verdict: CurveReport | None
    verdict_note: str  # why there is no verdict, when there is none


@dataclass(frozen=True)
class WorkspaceReport:
    workspace: str
    generated_at: datetime
    loops: tuple[LoopSection, ...]
    datasets: tuple[DatasetSection, ...]

    @property
    def sections(self) -> list[str]:
        return list(SECTIONS)

    @property
    def n_versions(self) -> int:
        return sum(len(d.versions) for d in self.datasets)

    def to_json(self) -> dict[str, Any]:
        return {
            "workspace": self.workspace,
            "generated_at": self.generated_at.isoformat(),
            "loops": [{**s.summary.to_json(), "product": s.product} for s in self.loops],
            "datasets": [
                {
                    "name": d.name,
                    "rows": d.rows,
                    "profile": d.profile.to_json() if d.profile is not None else None,
                    "versions": len(d.versions),
                    "metric": d.metric,
                    "verdict": d.verdict.to_json() if d.verdict is not None else None,
                    "verdict_note": d.verdict_note,
                }
                for d in self.datasets
            ],
        }


# --- the facts in words, for both renderings ------------------------------------------------------------


def learning_word(section: DatasetSection) -> str:
    """The dataset's learning-curve verdict in a word or two, or "no verdict yet"."""
    return section.verdict.verdict.label if section.verdict is not None else "no verdict yet"


def profile_rows(profile: DataProfile) -> list[tuple[str, str]]:
    """The profile as (measure, value) pairs, formatted for people."""
    return [
        ("Events", count(profile.events)),
        ("Users", count(profile.users)),
        ("Items", count(profile.items)),
        ("First event", when(profile.first_event.to_pydatetime())),
        ("Last event", when(profile.last_event.to_pydatetime())),
        ("Days covered", count(profile.days)),
        ("Explicit signals", percent(profile.explicit_share)),
        ("Implicit signals", percent(profile.implicit_share)),
        ("Events carrying feedback", percent(profile.feedback_coverage)),
        ("Positive feedback", percent(profile.positive_share)),
        ("DAU/MAU (stickiness)", percent(profile.dau_mau)),
        ("Median events per user", significant(profile.events_per_user_median, 3)),
        ("Outlier users (bots?)", count(profile.outlier_users)),
    ]


def version_rows(section: DatasetSection) -> tuple[list[str], list[list[str]]]:
    """The version table's header and rows, formatted for people (the first few metrics only)."""
    metrics = section.metrics[:MAX_METRIC_COLUMNS]
    header = [
        "Version",
        "Turn",
        "Training rows",
        "Holdout rows (positives)",
        "Algorithm",
        *[f"{m} (95% CI)" for m in metrics],
        "Train time",
        "Author",
        "Created",
    ]
    rows = [
        [
            str(v.version),
            str(v.turn),
            count(v.train_rows),
            "—" if v.holdout_rows is None else f"{count(v.holdout_rows)} ({count(v.holdout_positives or 0)})",
            v.algorithm,
            *[v.cell(m) for m in metrics],
            f"{v.train_seconds:,.1f} s",
            v.author,
            when(v.created_at),
        ]
        for v in section.versions
    ]
    return header, rows


def verdict_sentence(section: DatasetSection) -> str:
    """The learning-curve verdict as a sentence, or why there is none."""
    report = section.verdict
    if report is None:
        return section.verdict_note
    parts = [
        f"{report.verdict.label} (confidence {report.confidence:.0%}), judged on "
        f"{section.metric} against training rows over {len(report.x)} versions: {report.reason}"
    ]
    if report.asymptote is not None:
        parts.append(f"Fitted ceiling {significant(report.asymptote)}.")
    return " ".join(parts)


def summary_line(report: WorkspaceReport) -> str:
    events = sum(d.rows for d in report.datasets)
    return (
        f"{counted(len(report.loops), 'loop map')}, {counted(len(report.datasets), 'dataset')} "
        f"({counted(events, 'event')}), {counted(report.n_versions, 'model version')}."
    )
