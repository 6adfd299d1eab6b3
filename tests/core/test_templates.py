"""The seed templates: one generated test per file found in flywheel_core/loop/templates/, and the loader's
errors on a malformed file."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from importlib.resources.abc import Traversable
from pathlib import Path

import pytest

from flywheel_core.exceptions import DataValidationError
from flywheel_core.loop.diagnosis import diagnose
from flywheel_core.loop.model import STAGES, TEMPLATES, LoopMap, template_map
from flywheel_core.loop.seeds import find_template_files, read_template_file, read_templates, template_folder

REPO = Path(__file__).resolve().parents[2]
FILES = find_template_files()


def test_templates_folder_holds_every_template_in_order() -> None:
    assert len(FILES) == len(TEMPLATES) == 8
    assert {f.name.removesuffix(".toml") for f in FILES} == set(TEMPLATES)
    assert TEMPLATES[:2] == ("spotify", "tesla") and TEMPLATES[-1] == "note-taking"
    orders = [read_template_file(f).order for f in FILES]
    assert sorted(orders) == list(range(1, len(FILES) + 1))


def test_templates_ship_in_the_wheel() -> None:
    """Every template file matches a package-data pattern of pyproject.toml, so it is in the built wheel."""
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for file in FILES:
        inside = f"loop/templates/{file.name}"
        assert any(fnmatch.fnmatch(inside, p) for p in patterns["flywheel_core"]), inside


@pytest.mark.parametrize("file", FILES, ids=[f.name for f in FILES])
def test_templates_file_loads_validates_and_diagnoses(file: Traversable) -> None:
    template = read_template_file(file, check=LoopMap.from_json)
    loop_map = LoopMap.from_json(template.data)
    assert template_map(template.key) == loop_map
    assert LoopMap.from_json(loop_map.to_json()) == loop_map
    d = diagnose(loop_map)
    assert d.verdict in ("flywheel", "feedback_loop") and d.missing_links == ()
    # What a seed case needs to tell its story: every stage mapped with evidence, signals, a moat, risks, a speed.
    assert loop_map.name.strip() and loop_map.product.strip()
    for stage in STAGES:
        c = loop_map.components[stage]
        assert c.description and c.system and c.owner and c.evidence, stage
        assert c.health is not None and c.latency_hours is not None, stage
    assert loop_map.signals and all(s.volume_per_day is not None for s in loop_map.signals)
    assert loop_map.network_learning.answer != "unsure" and loop_map.network_learning.why
    assert loop_map.network_learning.headroom != "unsure"
    assert loop_map.risks
    assert None not in (loop_map.velocity.event_to_production_hours, loop_map.velocity.deploys_per_week)
    assert d.cycle_time_hours is not None and d.velocity_band != "unknown"


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def _spotify() -> str:
    return template_folder().joinpath("spotify.toml").read_text(encoding="utf-8")


def test_templates_malformed_field_names_the_file_and_the_field(tmp_path: Path) -> None:
    text = re.sub(r"(\[components\.storage\][^\[]*?)health = \d", r"\1health = 9", _spotify())
    assert text != _spotify()
    folder = _folder(tmp_path, {"spotify.toml": text})
    with pytest.raises(DataValidationError, match=r"spotify\.toml has 1 problem: components\.storage\.health: .*got 9"):
        read_templates(folder, check=LoopMap.from_json)
    with pytest.raises(DataValidationError) as caught:
        read_templates(folder, check=LoopMap.from_json)
    assert [p.column for p in caught.value.problems] == ["components.storage.health"]
    assert str(tmp_path / "spotify.toml") in str(caught.value)


@pytest.mark.parametrize(
    ("files", "match"),
    [
        ({"broken.toml": 'order = 1\nname = "unterminated\n'}, r"broken\.toml .*not valid TOML \(.*line 2"),
        ({"no-order.toml": 'name = "A loop"\n'}, r"no-order\.toml .*order: must be a whole number .*got None"),
        ({"bad-order.toml": 'order = "first"\nname = "A"\n'}, r"bad-order\.toml .*order: .*got 'first'"),
        (
            {"a.toml": 'order = 1\nname = "A"\n', "b.toml": 'order = 1\nname = "B"\n'},
            r"b\.toml .*order: 1 is also .*a\.toml",
        ),
        ({"Bad_Name.toml": 'order = 1\nname = "A"\n'}, r"Bad_Name\.toml .*file name: must be lower-case"),
        ({"unknown.toml": 'order = 1\nname = "A"\ncolour = "red"\n'}, r"unknown\.toml .*colour: unknown field"),
        ({"notes.txt": "not a template"}, r"No loop templates \(\*\.toml\) in "),
    ],
    ids=["toml syntax", "no order", "order not a number", "same order twice", "file name", "unknown field", "none"],
)
def test_templates_malformed_file_gives_a_clear_error(tmp_path: Path, files: dict[str, str], match: str) -> None:
    with pytest.raises(DataValidationError, match=match):
        read_templates(_folder(tmp_path, files), check=LoopMap.from_json)


def test_templates_loader_reads_a_folder_in_order_without_check(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"zeta.toml": 'order = 1\nname = "Z"\n', "alpha.toml": 'order = 2\nname = "A"\n'})
    assert read_templates(folder) == {"zeta": {"name": "Z"}, "alpha": {"name": "A"}}
    assert list(read_templates(folder)) == ["zeta", "alpha"]
