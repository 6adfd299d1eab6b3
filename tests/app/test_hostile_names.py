"""Names users type are rendered as text: a hostile workspace, loop map or dataset name produces no image or link."""

from __future__ import annotations

import re

import pandas as pd

from flywheel_core.config import load_settings
from flywheel_core.data.api import store_frame
from flywheel_core.data.signals import SignalSpec
from flywheel_core.loop.model import LoopMap, template_map
from flywheel_core.storage.store import Store
from tests.app.conftest import PAGES

HOSTILE = "![p](http://evil.test/p.png) [x](http://evil.test) <img src=x> **b**"
# "](http" with its bracket not escaped (Markdown would link it), or a raw tag
UNESCAPED = re.compile(r"(?<!\\)\]\((?:http|/)|(?<!\\)<img")


def _rendered(at) -> list[str]:
    texts = []
    for kind in ("markdown", "caption", "info", "success", "warning", "error", "title", "subheader", "header"):
        texts += [str(element.value) for element in at.get(kind)]
    return texts


def test_every_page_renders_hostile_names_as_text(make_app, app_env) -> None:
    store = Store(load_settings(app_env))
    workspace = store.create_workspace(name=HOSTILE[:80], actor="local")
    assert workspace.id is not None
    loop = template_map("spotify").to_json() | {"name": HOSTILE}
    store.save_loop(workspace_id=workspace.id, name=HOSTILE, content=LoopMap.from_json(loop).to_json(),
                    actor="local", base_version=None)  # fmt: skip
    frame = pd.DataFrame(
        {
            "user": [f"u{i % 7}" for i in range(60)],
            "item": [f"i{i % 5}" for i in range(60)],
            "timestamp": pd.date_range("2026-01-01", periods=60, freq="h", tz="UTC"),
            "event": ["click" if i % 3 else "skip" for i in range(60)],
        }
    )
    store_frame(store, workspace_id=workspace.id, frame=frame, dataset=HOSTILE[:100], actor="local",
                signals={"click": SignalSpec("implicit", "positive", 1.0)})  # fmt: skip
    for page in PAGES:
        at = make_app(page, workspace=HOSTILE[:80])
        assert not at.exception, (page, at.exception)
        texts = _rendered(at)
        assert any("evil" in t for t in texts) or page != "pages/workspace.py", page  # the name is shown...
        links = [t for t in texts if UNESCAPED.search(t)]
        assert links == [], (page, links)  # ...but never as an image or a link
