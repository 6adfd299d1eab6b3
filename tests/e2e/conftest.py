"""Browser journeys: the system's Chromium driven by Playwright against `streamlit run app.py`.

Each test gets its own app process on a free port with a temporary data folder. Screenshots of each
journey's end go to ``test-artifacts/e2e/`` (or ``FLYWHEEL_E2E_ARTIFACTS``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("FLYWHEEL_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("FLYWHEEL_E2E_ARTIFACTS", REPO / "test-artifacts" / "e2e"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class App:
    def __init__(self, url: str, data_dir: Path, env: dict[str, str]) -> None:
        self.url, self.data_dir, self.env = url, data_dir, env

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "flywheel_core.cli", *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=REPO,
            timeout=300,
            check=True,
        )


@pytest.fixture
def app(env: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[App]:
    """The app served by a real ``streamlit run``; parametrize indirectly with a sign-in mode ("accounts")
    to serve a hosted instance."""
    port = _free_port()
    auth = getattr(request, "param", "none")
    full_env = {**os.environ, **env, "FLYWHEEL_AUTH": auth}
    full_env.pop("FLYWHEEL_HOSTED", None)
    if auth != "none":
        full_env["FLYWHEEL_HOSTED"] = "on"
    log = (tmp_path / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(REPO / "app.py"),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            # The code under test never changes mid-journey: no watcher reloading modules (or flooding the
            # log with inotify overflows) while other work edits the tree.
            "--server.fileWatcherType",
            "none",
        ],
        cwd=REPO,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"streamlit did not start: {(tmp_path / 'streamlit.log').read_text()[-2000:]}")
        time.sleep(0.2)
    yield App(url, Path(env["FLYWHEEL_DATA_DIR"]), full_env)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    _assert_clean_server_log((tmp_path / "streamlit.log").read_text(errors="replace"), request)


# What a clean server log never holds: Python warnings, deprecation notices, stack traces (Streamlit logs
# its own warnings, such as a widget given a default and a session-state value, as a message and a
# "Stack (most recent call last)" with no level name).
SERVER_LOG_PROBLEMS = ("warning", "traceback", "deprecated", "stack (most recent call last)", "exception")


def _assert_clean_server_log(text: str, request: pytest.FixtureRequest) -> None:
    """Fail the journey whose app logged a warning or a stack trace (the log is kept in the artifacts)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{request.node.name}.server.log").write_text(text)
    found = [line for line in text.splitlines() if any(word in line.lower() for word in SERVER_LOG_PROBLEMS)]
    if found:
        pytest.fail(f"the app's server log is not clean ({len(found)} lines), first: {found[0]!r}\n{text[-3000:]}")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's package (apt-get install chromium) "
            "or set FLYWHEEL_CHROMIUM. Never run `playwright install` here."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request: pytest.FixtureRequest) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 2000}, accept_downloads=True)
    context.set_default_timeout(60_000)
    page = context.new_page()
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()
