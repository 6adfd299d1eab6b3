"""The Demo workspace tells the seeds' stories through its own trained versions."""

from __future__ import annotations

from flywheel_core.curves.sources import judge_model_versions
from flywheel_core.demo import ARCHETYPES, demo_dataset_name, load_demo_workspace
from flywheel_core.storage.store import Store

EXPECTED = {"music": "compounding", "support": "plateau", "fleet": "plateau", "backward": "backward"}


def test_demo_versions_carry_each_archetype_story(store: Store) -> None:
    result = load_demo_workspace(store, actor="local")
    assert result.versions_trained == 6 * len(ARCHETYPES)
    workspace = store.get_workspace(name="Demo")
    verdicts = {}
    for key in ARCHETYPES:
        dataset = store.get_dataset(workspace_id=workspace.id, name=demo_dataset_name(key))
        versions = store.list_model_versions(workspace_id=workspace.id, dataset_id=dataset.id)
        verdicts[key] = judge_model_versions(versions).verdict
    assert verdicts == EXPECTED
    again = load_demo_workspace(store, actor="local")
    assert again.versions_trained == 0  # idempotent: versions are trained once
