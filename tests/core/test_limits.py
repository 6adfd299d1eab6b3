"""The small files besides event logs are bounded before they are parsed: loop maps, curves, model versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flywheel_core.curves.sources import read_series
from flywheel_core.exceptions import LimitExceededError
from flywheel_core.learning.imports import read_versions_file
from flywheel_core.limits import MAX_LOOP_LIST_ITEMS, MAX_SERIES_FILE_BYTES, MAX_VERSIONS_FILE_BYTES
from flywheel_core.loop.model import LoopMap, template_map


def _sparse(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that costs no disk (its size is what is checked, before any read)."""
    with path.open("wb") as file:
        file.truncate(size)
    return path


def test_a_loop_map_file_over_a_megabyte_is_refused_before_it_is_parsed() -> None:
    data = json.loads(template_map(next(iter(_template_keys()))).to_json_text())
    padded = json.dumps(data) + " " * (2 * 1024 * 1024)  # valid JSON, only too big
    LoopMap.from_json_text(json.dumps(data))  # the same map, unpadded, reads
    with pytest.raises(LimitExceededError, match=r"The file is 2\.0 MB; a loop map file can be at most 1\.0 MB"):
        LoopMap.from_json_text(padded.encode())


def test_a_loop_map_with_more_signals_than_a_map_can_hold_names_the_list() -> None:
    data = json.loads(template_map(next(iter(_template_keys()))).to_json_text())
    base = data["signals"][0]
    data["signals"] = [{**base, "name": f"signal {i}"} for i in range(MAX_LOOP_LIST_ITEMS + 1)]
    with pytest.raises(Exception, match=rf"'signals': has {MAX_LOOP_LIST_ITEMS + 1} entries; a map can have at most"):
        LoopMap.from_json_text(json.dumps(data))
    data["signals"] = data["signals"][:MAX_LOOP_LIST_ITEMS]
    assert len(LoopMap.from_json_text(json.dumps(data)).signals) == MAX_LOOP_LIST_ITEMS


def test_a_learning_curve_file_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = _sparse(tmp_path / "curve.csv", 2 * MAX_SERIES_FILE_BYTES)
    with pytest.raises(LimitExceededError, match=r"curve\.csv is 512 MB; a learning-curve file can be at most 256 MB"):
        read_series(big)
    small = tmp_path / "ok.csv"
    small.write_text("rows,auc\n1000,0.7\n2000,0.72\n")
    assert read_series(small).y.tolist() == [0.7, 0.72]


def test_a_versions_file_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = _sparse(tmp_path / "versions.csv", MAX_VERSIONS_FILE_BYTES + 1)
    # just over the limit: rounded to MB the two would read the same, so the message gives bytes
    with pytest.raises(LimitExceededError, match=r"versions\.csv is 16,777,217 bytes; .* at most 16,777,216 bytes"):
        read_versions_file(big, name="versions.csv")


def _template_keys() -> list[str]:
    from flywheel_core.loop.model import TEMPLATES

    return list(TEMPLATES)
