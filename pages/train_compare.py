"""Train & compare: model versions turn by turn, the registry, side-by-side comparison, experiments."""

from __future__ import annotations

import streamlit as st

from flywheel_core import jobs as jobs_api
from flywheel_core.charts.train import (
    calibration_chart,
    experiment_chart,
    metric_by_version_chart,
    metric_label,
    offpolicy_chart,
    pr_chart,
    production_rates_chart,
    roc_chart,
)
from flywheel_core.data import api as data_api
from flywheel_core.exceptions import DataValidationError
from flywheel_core.experiments import api as experiments_api
from flywheel_core.experiments.effects import CONCLUSION_LABELS
from flywheel_core.learning import api as learning_api
from flywheel_core.learning.api import compare_versions, registry_table
from flywheel_core.numbers import count, number, percent, when
from flywheel_core.params import EXPERIMENT, N_TURNS, PRODUCTION_MATERIAL, TASK, TURN_BY, model_param
from ui.context import current, kept, user_errors
from ui.jobs_panel import COMPARE_KEY, job_monitor, last_outcome, launch, runs_table
from ui.text import md_escape

ctx = current()
st.title("Train & compare")
st.caption(
    "The log is cut into turns. Version k learns from turns 1..k and is scored on turn k+1 (what users met "
    "next) and on a fixed final holdout. Does each turn of the flywheel make the model better?"
)

datasets = data_api.list_datasets(ctx.store, workspace_id=ctx.workspace_id, actor=ctx.actor)
if not datasets:
    st.info(
        "No datasets in this workspace yet. Import an interaction log, or load the demo workspace from the "
        "Overview, then come back to train.",
        icon=":material/info:",
    )
    st.page_link("pages/interaction_data.py", label="Import an interaction log", icon=":material/upload:")
    st.stop()

names = [d.name for d in datasets]
name = st.selectbox("Dataset", names, **kept("train_compare.dataset"))
dataset = next(d for d in datasets if d.name == name)


jobs = jobs_api.list_jobs(ctx.store, workspace_id=ctx.workspace_id, actor=ctx.actor, limit=20)
train_tab, registry_tab, experiments_tab, production_tab = st.tabs(
    ["Train", "Registry & compare", "Experiments", "In production"], **kept("train_compare.tab")
)

with train_tab:
    task = (
        st.segmented_control(
            "Task",
            list(TASK.options),
            default=TASK.default,
            key="train_compare.task",
            help="feedback: will an interaction get positive feedback? recommend: rank items for each user.",
        )
        or "feedback"
    )
    models = list(model_param(task).options)
    with st.form("train_compare.train_form"):
        cols = st.columns(3)
        model = cols[0].selectbox("Model", models, key=f"train_compare.model_{task}")
        turns = cols[1].slider("Turns", N_TURNS.low, N_TURNS.high, N_TURNS.default, key="train_compare.turns")
        by = cols[2].selectbox("Cut turns by", list(TURN_BY.options), key="train_compare.by")
        submitted = st.form_submit_button("Train versions", type="primary", disabled=not ctx.can_edit)
    if submitted:
        launch(ctx, "train", {"dataset": name, "task": task, "model": model, "turns": turns, "by": by})
        jobs = jobs_api.list_jobs(ctx.store, workspace_id=ctx.workspace_id, actor=ctx.actor, limit=20)
    else:
        last_outcome(jobs, kind="train", dataset=name, actor=ctx.actor)
    job_monitor(ctx)
    runs_table(jobs[:10])

with registry_tab:
    versions = learning_api.list_model_versions(
        ctx.store, workspace_id=ctx.workspace_id, dataset_id=dataset.id, actor=ctx.actor
    )
    if not versions:
        st.info("No model versions for this dataset yet. Train some in the Train tab.", icon=":material/info:")
    else:
        tasks = sorted({v.task for v in versions})
        shown_task = st.radio("Task", tasks, horizontal=True, **kept("train_compare.shown_task"))
        shown = [v for v in versions if v.task == shown_task]
        table = registry_table(shown)
        metric_names = [
            k
            for k in table.columns
            if k.startswith(("auc", "holdout_", "log_loss", "brier", "hit", "ndcg", "coverage"))
            and not k.endswith(("95% CI", "rows", "positives"))
        ]
        number_column = st.column_config.NumberColumn
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            key="train_compare.registry",
            column_config={  # counts as people read them (12,440), metrics to three places, seconds with a unit
                "version": number_column("Version", format="v%d"),
                "train_rows": number_column("Train rows", format="localized"),
                "holdout rows": number_column("Holdout rows", format="localized"),
                "holdout positives": number_column("Holdout positives", format="localized"),
                "train_seconds": number_column("Train time", format="%.1f s"),
                **{name: number_column(metric_label(name), format="%.3f") for name in metric_names},
            },
        )
        st.caption(
            "Each metric with its 95% interval and the window's counts. A window with fewer than 10 positives "
            "or 10 negatives is not scored: the table says why instead of showing a number."
        )
        metric = st.selectbox("Metric", metric_names, key="train_compare.metric", format_func=metric_label)
        st.plotly_chart(metric_by_version_chart(shown, metric), width="stretch")
        st.subheader("Compare versions")
        ids = [v.version for v in shown]
        picked = st.multiselect(  # a finished run's "Open in the registry" may have picked them already
            "Versions",
            ids,
            default=None if COMPARE_KEY in st.session_state else ids[-2:],
            **kept(COMPARE_KEY),
            format_func=lambda v: f"v{v}",
        )
        if len(picked) >= 2:
            with user_errors():
                report = compare_versions([v for v in versions if v.version in picked])
                st.dataframe(
                    report.metrics,
                    hide_index=True,
                    width="stretch",
                    column_config={"change": st.column_config.NumberColumn("Δ last − first", format="%+.3f")},
                )
                st.caption(
                    "The change's 95% interval is DeLong's paired one for consecutive turns of one run (the same "
                    "holdout rows); otherwise a conservative unpaired one. An interval across zero is no "
                    "detectable difference."
                )
                if any(report.curves.values()):
                    left, mid, right = st.columns(3)
                    left.plotly_chart(roc_chart(report.curves), width="stretch")
                    mid.plotly_chart(pr_chart(report.curves), width="stretch")
                    right.plotly_chart(calibration_chart(report.curves), width="stretch")
                st.markdown("**By segment** (new vs returning users, head vs tail items, on the holdout)")
                st.dataframe(
                    report.segments,
                    hide_index=True,
                    width="stretch",
                    column_config={
                        "version": number_column("Version", format="v%d"),
                        "rows": number_column("Rows", format="localized"),
                        "positives": number_column("Positives", format="localized"),
                        "positive_rate": number_column("Positive rate", format="percent"),
                        **{m: number_column(metric_label(m), format="%.3f") for m in ("auc", "log_loss", "brier")},
                    },
                )
                st.markdown(
                    "**Drift** (PSI of the version's newest turn against the turns before it; "
                    "above 0.25 is a major shift)"
                )
                st.dataframe(report.drift, hide_index=True, width="stretch")
        else:
            st.caption("Pick two or more versions to compare them side by side.")

    with st.expander("Import versions", icon=":material/upload:"):
        st.caption(
            "Your own model versions, from MLflow or a file (version, trained_at, train_rows, metrics, "
            "optional <metric>_low / <metric>_high and holdout_rows / holdout_positives), stored beside the "
            "trained ones as imported:mlflow or imported:file and judged the same way."
        )
        if st.session_state.get("train_compare.imported"):
            st.success(st.session_state.pop("train_compare.imported"), icon=":material/check:")
        source = st.radio("From", ["File", "MLflow"], horizontal=True, key="train_compare.import_source")
        with st.form("train_compare.import_form"):
            upload, uri, mlflow_experiment = None, "", ""
            if source == "MLflow":
                uri = st.text_input("Tracking URI", placeholder="sqlite:///mlflow.db", key="train_compare.mlflow_uri")
                mlflow_experiment = st.text_input("Experiment", key="train_compare.mlflow_experiment")
            else:
                upload = st.file_uploader("CSV or JSON of versions", type=["csv", "json"], key="train_compare.file")
            x_param = st.text_input("Data size: param, metric or column", "train_rows", key="train_compare.x_param")
            do_import = st.form_submit_button("Import versions", disabled=not ctx.can_edit)
        if do_import and source == "File" and upload is None:
            st.warning("Choose a CSV or JSON file of versions first.", icon=":material/warning:")
        elif do_import:
            with user_errors():
                imported = learning_api.import_versions(
                    ctx.store,
                    workspace_id=ctx.workspace_id,
                    dataset_name=name,
                    actor=ctx.actor,
                    mlflow_uri=uri.strip() or None if source == "MLflow" else None,
                    experiment=mlflow_experiment.strip() or None,
                    file=None if source == "MLflow" else (upload.getvalue() if upload else b""),
                    file_name=upload.name if upload else "",
                    x_param=x_param.strip() or None,
                )
                held = imported.already_imported
                skipped = f"; {len(held)} already in the registry" if held else ""
                st.session_state["train_compare.imported"] = f"Imported {len(imported.imported)} version(s){skipped}."
                st.rerun()

with experiments_tab:
    st.caption(
        "Each experiment repeats on random halves of the users with fresh seeds and scores on the fixed final "
        "holdout; its effect is the mean over the repeats with a 95% interval, and its conclusion is read from "
        "that interval against a material effect."
    )
    picker, runner = st.columns([2, 1])
    kind = picker.selectbox("Experiment", list(EXPERIMENT.options), key="train_compare.experiment")
    options: dict[str, object] = {}
    option_cols = st.columns(max(1, len(experiments_api.OPTIONS[kind])))
    for column, param in zip(option_cols, experiments_api.OPTIONS[kind], strict=True):
        label = param.name.replace("_", " ").capitalize()
        key = f"train_compare.{kind}.{param.name}" if param.name == "cohort_share" else f"train_compare.{param.name}"
        if param.interval.kind is float:
            options[param.name] = column.slider(
                label, param.low, param.high, param.default, step=0.05, key=key, help=param.help
            )
        elif param.interval.high is None:
            options[param.name] = column.number_input(
                label, min_value=param.low, value=param.default, step=1, key=key, help=param.help
            )
        else:
            options[param.name] = column.slider(label, param.low, param.high, param.default, key=key, help=param.help)
    if runner.button("Run experiment", key="train_compare.run_experiment", disabled=not ctx.can_edit):
        launch(ctx, "experiment", {"dataset": name, "kind": kind, "options": options})
    else:
        last_outcome(jobs, kind="experiment", dataset=name, actor=ctx.actor)
    latest = experiments_api.latest_experiments(
        ctx.store, workspace_id=ctx.workspace_id, dataset_id=dataset.id, actor=ctx.actor
    )
    if not latest:
        st.info("No experiments on this dataset yet. Pick one and run it.", icon=":material/info:")
    for experiment in latest:
        result = experiment.result
        st.subheader(result.title)
        effect_col, interval_col, repeats_col, conclusion_col = st.columns(4)
        effect_col.metric(
            "Effect", result.effect.text() if result.effect else "—", help="Mean over the scored repeats."
        )
        interval_col.metric("95% interval", result.effect.interval_text() if result.effect else "—")
        repeats_col.metric("Repeats scored", f"{result.scored_repeats} of {result.repeats}")
        conclusion_col.metric(
            "Conclusion",
            CONCLUSION_LABELS[result.conclusion],
            help=f"Material effect: {number(result.material)} {result.unit}. Effect: the interval excludes zero and "
            "the estimate is at least material; no effect: the interval lies within ± material.",
        )
        st.plotly_chart(experiment_chart(result), width="stretch")
        st.markdown(result.sentence)
        for label, finding in result.comparisons.items():
            measured = (
                f"{finding.effect.text()} (95% interval {finding.effect.interval_text()})" if finding.effect else "—"
            )
            st.caption(f"{label.capitalize()}: {measured} · {CONCLUSION_LABELS[finding.conclusion].lower()}")
        st.caption(
            f"Run by {md_escape(experiment.author)} · {when(experiment.created_at)} · "
            + " · ".join(
                f"{k.replace('_', ' ')} {count(v) if isinstance(v, int) else number(v) if isinstance(v, float) else v}"
                for k, v in result.figures.items()
            )
        )

# Only when open: it reads the dataset's events (the tab is bound to the URL, so opening it reruns the page).
if production_tab.open is not False:
    with production_tab:
        st.caption(
            "How each model version did on the events it served (events tagged with their model_version): positive "
            "rate with a 95% interval clustered by user, consecutive versions compared, and, where propensities are "
            "logged, what another version would have earned on the same traffic."
        )
        material = st.slider(
            "Material difference of positive rate",
            0.005,
            0.10,
            PRODUCTION_MATERIAL.default,
            step=0.005,
            format="%.3f",
            key="train_compare.material",
            help=PRODUCTION_MATERIAL.help,
        )
        production = None
        try:
            production = learning_api.production_comparison(
                ctx.store, workspace_id=ctx.workspace_id, dataset_name=name, actor=ctx.actor, material=material
            )
        except DataValidationError as error:  # most often: no model_version column, which is not a fault
            st.info(md_escape(str(error)), icon=":material/info:")
        if production is None:
            if ctx.can_edit and st.button("Add the production demo dataset", key="train_compare.production_demo"):
                with user_errors():
                    learning_api.store_production_demo(ctx.store, workspace_id=ctx.workspace_id, actor=ctx.actor)
                    st.rerun()
        else:
            st.plotly_chart(production_rates_chart(production), width="stretch")
            st.dataframe(
                [
                    {
                        "Version": v.version,
                        "Events": v.events,
                        "Users": v.users,
                        "Positives": v.positives,
                        "Positive rate": f"{percent(v.rate, 2)} ({percent(v.low, 2)}–{percent(v.high, 2)})",
                        "Positives per user": f"{number(v.positives_per_user, 2)} ({number(v.ppu_low, 2)}–{number(v.ppu_high, 2)})",
                        "Session conversion": percent(v.session_conversion, 1),
                        "Served": f"{when(v.first_served)} – {when(v.last_served)}",
                    }
                    for v in production.versions
                ],
                hide_index=True,
                width="stretch",
                key="train_compare.production_table",
            )
            for comparison in production.comparisons:
                st.markdown(f"**{comparison.conclusion.replace('_', ' ')}** · {md_escape(comparison.sentence)}")
            with user_errors():
                online = learning_api.judge_production(production)
                st.caption(
                    f"Online verdict: {online.verdict.label} ({online.confidence:.0%}): {md_escape(online.reason)}"
                )
            st.subheader("Off-policy: what would another version have earned?")
            served = [v.version for v in production.versions]
            pick, base = st.columns(2)
            policy = pick.selectbox(
                "Version to evaluate", served, index=len(served) - 1, key="train_compare.ope_policy"
            )
            others = [v for v in served if v != policy]
            logged_on = base.multiselect("On the traffic of", others, default=others[:1], key="train_compare.ope_on")
            if st.button("Estimate", key="train_compare.ope_run", disabled=not logged_on):
                with user_errors():
                    st.session_state["train_compare.ope"] = learning_api.evaluate_offpolicy(
                        ctx.store, workspace_id=ctx.workspace_id, dataset_name=name, actor=ctx.actor,
                        policy=policy, on=logged_on,
                    )  # fmt: skip
            ope = st.session_state.get("train_compare.ope")
            if ope is not None and ope.policy == policy and list(ope.logged_on) == sorted(logged_on):
                st.plotly_chart(offpolicy_chart(ope), width="stretch")
                st.caption(
                    f"{ope.events:,} events of {ope.users:,} users · effective sample size {ope.ess:,.0f} "
                    f"({percent(ope.ess_share, 1)}) · {md_escape(ope.context_note)}"
                )
                if ope.warning:
                    st.warning(md_escape(ope.warning), icon=":material/warning:")
