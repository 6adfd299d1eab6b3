"""Workspace report: build it from the store, render the self-contained HTML and the Markdown.

Demo workspace (four datasets of 30,000 events, eight loop maps, six model versions on one dataset).
References: reading every dataset and profiling it (``read_dataset_file`` + ``profile_events``: the floor
for building), and ``plotly.io.to_html`` of the same figures with plotly.js inline (the floor for HTML).
"""

from __future__ import annotations

import tempfile

from common import Figure, median_time, report


def main() -> None:
    from plotly.offline import get_plotlyjs

    from flywheel_core.config import load_settings
    from flywheel_core.data.analytics import profile_events
    from flywheel_core.data.signals import SignalDictionary
    from flywheel_core.demo import DEMO_WORKSPACE, load_demo_workspace
    from flywheel_core.report.api import build_report
    from flywheel_core.report.html import render_html, report_figures
    from flywheel_core.report.markdown import render_markdown
    from flywheel_core.storage.models import ModelVersion
    from flywheel_core.storage.store import Store

    with tempfile.TemporaryDirectory() as folder:
        store = Store(load_settings({"FLYWHEEL_DATA_DIR": folder}))
        load_demo_workspace(store, actor="bench", n_events=30_000)
        workspace_id = store.get_workspace(name=DEMO_WORKSPACE).id
        datasets = store.list_datasets(workspace_id=workspace_id)
        for turn, rows in enumerate((1_000, 2_000, 4_000, 8_000, 16_000, 30_000), start=1):
            metrics = {"holdout_auc": 0.6 + 0.03 * turn}
            version = ModelVersion(workspace_id=workspace_id, dataset_id=datasets[0].id, version=0, run_id=str(turn),
                                   task="feedback", algorithm="logistic", turn=turn, train_rows=rows, metrics=metrics)  # fmt: skip
            store.add_model_version(workspace_id=workspace_id, version=version, actor="bench")
        events = sum(d.rows for d in datasets)

        def floor_build() -> None:
            for d in datasets:
                profile_events(store.read_dataset_file(d), SignalDictionary.from_json(d.signal_dictionary))

        built = build_report(store, workspace_id=workspace_id, actor="bench")
        figures = report_figures(built)

        def floor_html() -> None:
            import plotly.io as pio

            get_plotlyjs() + "".join(pio.to_html(f, full_html=False, include_plotlyjs=False) for f in figures)

        page = render_html(built)
        report(
            f"workspace report ({len(datasets)} datasets, {events:,} events, {len(figures)} charts, "
            f"HTML {len(page) / 1e6:.1f} MB)",
            [
                Figure(
                    "build_report (read, profile, activity, verdict)",
                    median_time(lambda: build_report(store, workspace_id=workspace_id, actor="bench"), repeat=3),
                    "read + profile_events only",
                    median_time(floor_build, repeat=3),
                    rows=events,
                ),
                Figure(
                    "render_html (plotly.js inline + figures)",
                    median_time(lambda: render_html(built), repeat=3),
                    "plotly to_html of the same figures",
                    median_time(floor_html, repeat=3),
                ),
                Figure("render_markdown", median_time(lambda: render_markdown(built), repeat=5)),
            ],
        )
        store.engine.dispose()


if __name__ == "__main__":
    main()
