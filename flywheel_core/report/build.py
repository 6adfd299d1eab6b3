"""The workspace report: loop diagnosis, data profile, model versions and verdict, to take away.

:func:`build_report` gathers everything from the store (it reads every dataset's events, so it takes a
second or more on large data); :func:`render_html` turns it into one self-contained HTML file (plotly.js
inline, interactive charts, no network needed to open it) and :func:`render_markdown` into Markdown with
the same facts. :func:`model_versions_frame` is the model-version registry as a table for CSV export
through :func:`flywheel_core.data.export.safe_csv`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flywheel_core.curves.sources import judge_model_versions, version_metrics
from flywheel_core.exceptions import FlywheelError, NotFoundError
from flywheel_core.loop.diagnosis import LoopDiagnosis, LoopSummary, diagnose, summarize_loops
from flywheel_core.loop.model import LoopMap
from flywheel_core.storage.models import as_utc

if TYPE_CHECKING:
    import pandas as pd

    from flywheel_core.curves.judge import CurveReport
    from flywheel_core.data.analytics import DataProfile
    from flywheel_core.storage.models import ModelVersion
    from flywheel_core.storage.store import Store

__all__ = [
    "SECTIONS",
    "DatasetSection",
    "LoopSection",
    "WorkspaceReport",
    "build_report",
    "model_versions_frame",
    "render_html",
    "render_markdown",
]

SECTIONS: tuple[str, ...] = ("Summary", "Loop diagnosis", "Data profile", "Model versions and verdict")
VERDICT_WORDS = {
    "flywheel": "Flywheel",
    "feedback_loop": "Feedback loop",
    "broken": "Broken loop",
    "invalid": "Unreadable map",
}
CURVE_WORDS = {
    "compounding": "Compounding",
    "plateau": "Plateau",
    "backward": "Going backward",
    "insufficient_data": "Not enough data",
}
MAX_METRIC_COLUMNS = 4


@dataclass(frozen=True)
class LoopSection:
    """One loop map's latest version and its full diagnosis (None when the stored map no longer reads)."""

    summary: LoopSummary
    diagnosis: LoopDiagnosis | None
    product: str


@dataclass(frozen=True)
class DatasetSection:
    """One dataset: its profile and charts' data, its model versions and the learning-curve verdict."""

    name: str
    source_name: str
    rows: int
    profile: DataProfile | None
    profile_note: str  # why there is no profile, when there is none
    activity: pd.DataFrame | None  # date, dau, wau, mau
    signal_weeks: pd.DataFrame | None  # period, signal, events (weekly, by signal class)
    versions: tuple[ModelVersion, ...]
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


# --- building -----------------------------------------------------------------------------------------


def _workspace_name(store: Store, workspace_id: int) -> str:
    for workspace in store.list_workspaces():
        if workspace.id == workspace_id:
            return str(workspace.name)
    raise NotFoundError(f"No workspace with id {workspace_id}. Pick an existing workspace.")


def _loop_sections(store: Store, workspace_id: int) -> tuple[LoopSection, ...]:
    out = []
    for summary in summarize_loops(store, workspace_id=workspace_id):
        diagnosis, product = None, ""
        if summary.verdict != "invalid":
            row = store.get_loop_version(workspace_id=workspace_id, name=summary.name, version=summary.version)
            loop_map = LoopMap.from_json(row.content)
            diagnosis, product = diagnose(loop_map), loop_map.product
        out.append(LoopSection(summary=summary, diagnosis=diagnosis, product=product))
    return tuple(out)


def _dataset_section(store: Store, dataset: Any, versions: list[ModelVersion]) -> DatasetSection:
    from flywheel_core.data.analytics import ANALYSIS_COLUMNS, active_users, events_over_time, profile_events
    from flywheel_core.data.signals import SignalDictionary

    profile = activity = weeks = None
    profile_note = ""
    try:
        events = store.read_dataset_file(dataset, columns=list(ANALYSIS_COLUMNS))
        dictionary = SignalDictionary.from_json(dataset.signal_dictionary)
        profile = profile_events(events, dictionary)
        activity = active_users(events).daily[["date", "dau", "wau", "mau"]]
        weeks = events_over_time(events, dictionary, freq="W")
        del events
    except FlywheelError as error:
        profile_note = str(error)
    metric = verdict = None
    verdict_note = ""
    if not versions:
        verdict_note = "No model versions yet: train versions turn by turn to see whether the loop compounds."
    else:
        names = version_metrics(versions)
        metric = names[0] if names else None
        try:
            verdict = judge_model_versions(versions)
        except FlywheelError as error:
            verdict_note = f"No verdict yet. {error}"
    return DatasetSection(
        name=dataset.name,
        source_name=dataset.source_name,
        rows=int(dataset.rows),
        profile=profile,
        profile_note=profile_note,
        activity=activity,
        signal_weeks=weeks,
        versions=tuple(versions),
        metric=metric,
        verdict=verdict,
        verdict_note=verdict_note,
    )


def build_report(store: Store, *, workspace_id: int) -> WorkspaceReport:
    """Everything the report shows for one workspace (and nothing from any other).

    Raises:
        NotFoundError: no workspace has this id.
    """
    name = _workspace_name(store, workspace_id)
    loops = _loop_sections(store, workspace_id)
    sections = []
    for dataset in store.list_datasets(workspace_id=workspace_id):
        versions = store.list_model_versions(workspace_id=workspace_id, dataset_id=dataset.id)
        sections.append(_dataset_section(store, dataset, sorted(versions, key=lambda v: v.version)))
    return WorkspaceReport(workspace=name, generated_at=datetime.now(UTC), loops=loops, datasets=tuple(sections))


def model_versions_frame(store: Store, *, workspace_id: int) -> pd.DataFrame:
    """The workspace's model-version registry, one row per version, metrics as columns."""
    import pandas as pd

    names = {d.id: d.name for d in store.list_datasets(workspace_id=workspace_id)}
    versions = store.list_model_versions(workspace_id=workspace_id)
    metrics = version_metrics(versions)
    rows = [
        {
            "dataset": names.get(v.dataset_id, str(v.dataset_id)),
            "version": v.version,
            "turn": v.turn,
            "train_rows": v.train_rows,
            "task": v.task,
            "algorithm": v.algorithm,
            "train_seconds": round(float(v.train_seconds), 3),
            "author": v.author,
            "created_at": fmt_iso(v.created_at),
            **{m: (v.metrics or {}).get(m) for m in metrics},
        }
        for v in sorted(versions, key=lambda v: (names.get(v.dataset_id, ""), v.version))
    ]
    columns = ["dataset", "version", "turn", "train_rows", "task", "algorithm", "train_seconds", "author"]
    return pd.DataFrame(rows, columns=[*columns, "created_at", *metrics])


# --- formatting for people ----------------------------------------------------------------------------


def fmt_count(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def fmt_percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def fmt_number(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)
    return f"{value:,.{digits}g}" if abs(value) < 1e6 else f"{value:,.0f}"


def fmt_hours(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1:
        return f"{value * 60:,.0f} min"
    return f"{value:,.1f} h" if value < 48 else f"{value / 24:,.1f} days"


def fmt_when(value: datetime | None) -> str:
    value = as_utc(value)
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def fmt_iso(value: datetime | None) -> str:
    value = as_utc(value)
    return "" if value is None else value.isoformat()


def profile_rows(profile: DataProfile) -> list[tuple[str, str]]:
    """The profile as (measure, value) pairs, formatted for people."""
    return [
        ("Events", fmt_count(profile.events)),
        ("Users", fmt_count(profile.users)),
        ("Items", fmt_count(profile.items)),
        ("First event", fmt_when(profile.first_event.to_pydatetime())),
        ("Last event", fmt_when(profile.last_event.to_pydatetime())),
        ("Days covered", fmt_count(profile.days)),
        ("Explicit signals", fmt_percent(profile.explicit_share)),
        ("Implicit signals", fmt_percent(profile.implicit_share)),
        ("Events carrying feedback", fmt_percent(profile.feedback_coverage)),
        ("Positive feedback", fmt_percent(profile.positive_share)),
        ("DAU/MAU (stickiness)", fmt_percent(profile.dau_mau)),
        ("Median events per user", fmt_number(profile.events_per_user_median, 3)),
        ("Outlier users (bots?)", fmt_count(profile.outlier_users)),
    ]


def version_rows(section: DatasetSection) -> tuple[list[str], list[list[str]]]:
    """The version table's header and rows, formatted for people (the first few metrics only)."""
    metrics = version_metrics(section.versions)[:MAX_METRIC_COLUMNS]
    header = ["Version", "Turn", "Training rows", "Algorithm", *metrics, "Train time", "Author", "Created"]
    rows = [
        [
            str(v.version),
            str(v.turn),
            fmt_count(v.train_rows),
            v.algorithm,
            *[fmt_number((v.metrics or {}).get(m)) for m in metrics],
            f"{v.train_seconds:,.1f} s",
            v.author,
            fmt_when(v.created_at),
        ]
        for v in section.versions
    ]
    return header, rows


def verdict_sentence(section: DatasetSection) -> str:
    report = section.verdict
    if report is None:
        return section.verdict_note
    parts = [
        f"{CURVE_WORDS.get(report.verdict, report.verdict)} (confidence {report.confidence:.0%}), judged on "
        f"{section.metric} against training rows over {len(report.x)} versions: {report.reason}"
    ]
    if report.asymptote is not None:
        parts.append(f"Fitted ceiling {fmt_number(report.asymptote)}.")
    return " ".join(parts)


def summary_line(report: WorkspaceReport) -> str:
    events = sum(d.rows for d in report.datasets)
    return (
        f"{fmt_count(len(report.loops))} loop maps, {fmt_count(len(report.datasets))} datasets "
        f"({fmt_count(events)} events), {fmt_count(report.n_versions)} model versions."
    )


# --- rendering ----------------------------------------------------------------------------------------


def render_markdown(report: WorkspaceReport) -> str:
    """The report as Markdown: the same facts as the HTML file, without the charts."""
    from flywheel_core.report.markdown import markdown

    return markdown(report)


def render_html(report: WorkspaceReport) -> str:
    """The report as one self-contained HTML file: plotly.js inline once, interactive charts, no URLs."""
    from flywheel_core.report.html import html_document

    return html_document(report)
