"""Every page renders with no exception, empty and with the demo loaded."""

from __future__ import annotations

import pytest

from flywheel_core.config import load_settings
from flywheel_core.demo import load_demo_workspace
from flywheel_core.storage.store import Store
from tests.app.conftest import PAGES


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_an_empty_install(make_app, page: str) -> None:
    at = make_app(page)
    assert not at.exception, at.exception
    assert at.title, f"{page} shows no title"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_the_demo(make_app, demo_instance, page: str) -> None:
    at = make_app(page, workspace="Demo")
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def test_overview_loads_the_demo_in_one_click(make_app, app_env) -> None:
    at = make_app()
    assert any("Load the demo" in b.label for b in at.button)
    at.button(key="overview.load_demo").click().run()
    assert not at.exception
    store = Store(load_settings(app_env))
    demo = store.get_workspace(name="Demo")
    assert len(store.list_datasets(workspace_id=demo.id)) == 4
    at.run()  # the rerun the click asked for
    assert at.sidebar.selectbox[0].value == "Demo"
    assert [m.value for m in at.metric if m.label == "Datasets"] == ["4"]


def test_overview_opens_an_existing_demo_instead_of_loading_it_again(make_app, app_env) -> None:
    store = Store(load_settings(app_env))
    store.ensure_workspace(name="Default", actor="local")  # as on a first visit, before anyone loaded the demo
    load_demo_workspace(store, actor="local", n_events=1_000)
    at = make_app()  # a new session starts on the empty default workspace
    assert [b.label for b in at.button if b.key and b.key.startswith("overview.")] == ["Open the demo workspace"]
    at.button(key="overview.open_demo").click().run()
    at.run()
    assert at.sidebar.selectbox[0].value == "Demo"
    assert [m.value for m in at.metric if m.label == "Datasets"] == ["4"]
