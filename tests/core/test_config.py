"""Settings are parsed strictly: a hosted instance fails closed, and there is one upload limit."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from flywheel_core.config import Settings, load_settings
from flywheel_core.exceptions import ConfigurationError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("value", ["1", "true", "YES", "on", " On "])
def test_every_spelling_of_hosted_turns_hosting_on(tmp_path: Path, value: str) -> None:
    env = {"FLYWHEEL_DATA_DIR": str(tmp_path), "FLYWHEEL_HOSTED": value}
    with pytest.raises(ConfigurationError, match="sign-in is off"):  # hosted and no sign-in: refuses to start
        load_settings(env)
    assert load_settings({**env, "FLYWHEEL_AUTH": "accounts"}).hosted is True


@pytest.mark.parametrize("value", ["y", "enabled", "hosted", "2", "treu"])
def test_an_unknown_hosted_value_refuses_to_start(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigurationError, match="FLYWHEEL_HOSTED must be one of"):
        load_settings({"FLYWHEEL_DATA_DIR": str(tmp_path), "FLYWHEEL_HOSTED": value, "FLYWHEEL_AUTH": "accounts"})


@pytest.mark.parametrize("value", ["", "0", "false", "no", "off"])
def test_hosting_off(tmp_path: Path, value: str) -> None:
    assert load_settings({"FLYWHEEL_DATA_DIR": str(tmp_path), "FLYWHEEL_HOSTED": value}).hosted is False


def test_streamlits_upload_limit_is_the_cores() -> None:
    streamlit = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert streamlit["server"]["maxUploadSize"] == Settings.max_upload_mb  # what `streamlit run app.py` enforces
    from flywheel_core.cli import core

    source = Path(core.__file__).read_text()
    assert '"--server.maxUploadSize",\n        str(settings.max_upload_mb)' in source  # what `flywheel app` passes
