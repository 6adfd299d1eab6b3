"""The pages' first chart in Chromium with 5M (and 25M) events stored, beside a bare Streamlit + Polars page.

For each size the events file of ``bench_profile`` (the music demo in the stored format) is stored as
dataset 'bench' of a fresh data folder of this bench's own (``/tmp/fw-bench-scale/pages-events-5M``), its
aggregates built by one ``flywheel profile`` (so "cold" below is a fresh app process over a dataset whose
aggregates are already kept, as after an import), and two logistic model versions are trained on it (the
Train & compare page's first chart is the registry's metric chart). Then, three times each (medians), the
system's Chromium (headless, Playwright) times from navigation to the first plotly chart drawn (a visible
``.js-plotly-plot`` with its SVG traces), each time against a fresh app process (``flywheel app``, or
``streamlit run`` for the bare pages) on one port:

- 1st visit: a new browser profile (nothing cached: Streamlit's own JavaScript is fetched and compiled);
- cold: a fresh app process, the browser returning (Streamlit's files in its cache, as after a restart);
- warm: a reload in the same app process;
- Interaction data (Explore tab): also a new date range (30 days, typed into the date filter) until the
  first chart shows it; every view: the app process's peak resident memory (VmHWM) and its start (until
  ``/_stcore/health`` answers);
- Overview (it has no chart: its first data grid drawn), Compounding vs plateau, Train & compare;
- the bare page (bench/bare_page.py, reading the same Parquet file with Polars on every run) and a
  Streamlit page drawing a three-point chart (the floor: Streamlit and Chromium alone).

Target (issue 19): every page's first chart within 1.5 s cold and 0.5 s warm.

    python bench/run.py pages                 # 5M
    FLYWHEEL_BENCH_25M=1 python bench/run.py pages
    FLYWHEEL_BENCH_PAGES_SIZES=1 python bench/run.py pages    # other sizes, in millions (quick looks)
    FLYWHEEL_BENCH_PAGES_ONLY=Interaction,bare ...             # only the views whose label starts so
    FLYWHEEL_BENCH_APPS=before=/tmp/before,after=. ...        # two checkouts' apps, their runs alternated

Model versions are trained up to FLYWHEEL_BENCH_PAGES_TRAIN_MAX millions of events (default 5; 25M needs about
10 GB): above it, Train & compare is left out.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_profile import DATA, events_file
from common import REPO, python, run_process

CHROMIUM = os.environ.get("FLYWHEEL_CHROMIUM", "/usr/bin/chromium")
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
REPEAT = int(os.environ.get("FLYWHEEL_BENCH_PAGES_REPEAT", "3"))
HERE = Path(__file__).resolve().parent
# The checkouts whose app is measured, "label=folder,..." (default this one): with two, each view's runs
# alternate between them (before, after, before, ...), so both meet the same load on a shared machine.
APPS = [
    (label, Path(folder).resolve())
    for label, _, folder in (
        part.rpartition("=") for part in os.environ.get("FLYWHEEL_BENCH_APPS", f"={REPO}").split(",")
    )
]
FLOOR_PAGE = """
import plotly.express as px, streamlit as st
st.set_page_config(page_title="Floor", layout="wide")
st.title("Floor")
st.plotly_chart(px.line(x=[1, 2, 3], y=[1, 3, 2]), width="stretch")
"""
# A chart is drawn when its div is laid out (not in a hidden tab) and plotly has drawn its traces.
DRAWN = """() => [...document.querySelectorAll('.js-plotly-plot')].some(
    (g) => g.getClientRects().length > 0 && g._fullLayout && g.querySelector('.main-svg .trace, .main-svg image'))"""
GRID = """() => [...document.querySelectorAll('[data-testid=stDataFrame] canvas, [data-testid=stTable]')].some(
    (e) => e.getClientRects().length > 0)"""
FAILED = "[data-testid=stException]"
X_RANGE = """() => { const g = [...document.querySelectorAll('.js-plotly-plot')].find(
    (g) => g.getClientRects().length > 0 && g._fullLayout); return g ? JSON.stringify(g._fullLayout.xaxis.range) : ''; }"""


def sizes() -> list[int]:
    wanted = os.environ.get("FLYWHEEL_BENCH_PAGES_SIZES")
    if wanted:
        return [int(float(n) * 1_000_000) for n in wanted.split(",")]
    return [5_000_000] + ([25_000_000] if os.environ.get("FLYWHEEL_BENCH_25M") else [])


def data_folder(events: Path) -> Path:
    """This bench's own data folder (other benches drop their aggregates): the dataset stored, its
    aggregates built by one profile, two model versions trained."""
    folder = DATA / f"pages-{events.stem}"
    if (folder / "ready").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    code = f"import sys; sys.path[:0] = {[str(HERE), str(REPO)]!r}; "
    code += f"from bench_profile import _store; _store({str(events)!r}, {str(folder)!r})"
    run_process([python(), "-c", code])
    env = {"FLYWHEEL_DATA_DIR": str(folder)}
    cli = [python(), "-m", "flywheel_core.cli"]
    run_process([*cli, "profile", "bench", "--workspace", "bench", "--json"], env=env)
    if _trained(events):
        run_process([*cli, "train", "bench", "--workspace", "bench", "--turns", "2", "--model", "logistic"], env=env)
    (folder / "ready").touch()
    return folder


def _trained(events: Path) -> bool:
    """Whether model versions are trained for this size (training 25M events needs about 10 GB)."""
    limit = float(os.environ.get("FLYWHEEL_BENCH_PAGES_TRAIN_MAX", "5"))
    return int(events.stem.split("-")[1].rstrip("M")) <= limit


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


PORT = _free_port()  # one origin for every app process: the returning browser's cache holds across restarts


class Server:
    """The app (``flywheel app``) or a bare page (``streamlit run SCRIPT``) on a free port until stopped; the
    seconds until its health check answered, and its peak resident memory from /proc."""

    def __init__(
        self, script: Path | None, env: dict[str, str], args: tuple[str, ...] = (), app_dir: Path = REPO
    ) -> None:
        self.port = PORT
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
        options = ["--server.headless", "true", "--browser.gatherUsageStats", "false",
                   "--server.fileWatcherType", "none", "--server.runOnSave", "false"]  # fmt: skip
        if script is None:  # the product's own start (it execs streamlit in the same process: same pid)
            command = [python(), "-m", "flywheel_core.cli", "app", "--port", str(self.port), "--", *options]
        else:
            command = [python(), "-m", "streamlit", "run", str(script), "--server.port", str(self.port),
                       "--server.address", "127.0.0.1", *options, *(("--", *args) if args else ())]  # fmt: skip
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            command,
            cwd=app_dir,
            env={**os.environ, "FLYWHEEL_AUTH": "none", "PYTHONPATH": str(app_dir), **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2).read() == b"ok":
                    self.start_seconds = time.perf_counter() - started
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise RuntimeError(f"the app did not start: {self.log.read()[-2000:]!r}")
            time.sleep(0.05)

    def peak_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@dataclass(frozen=True)
class View:
    label: str
    script: Path | None  # None: the app, started by `flywheel app`
    path: str = ""  # URL path and query
    drawn: str = DRAWN
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    date_range: bool = False


@dataclass
class Timings:
    first_visit: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    ranged: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    start: list[float] = field(default_factory=list)


def _timed_load(page: Any, url: str, drawn: str, reload: bool = False) -> float:
    started = time.perf_counter()
    if reload:
        page.reload(wait_until="commit")
    else:
        page.goto(url, wait_until="commit")
    page.wait_for_function(f"() => ({drawn})() || !!document.querySelector('{FAILED}')", polling=50, timeout=300_000)
    seconds = time.perf_counter() - started
    if page.locator(FAILED).count():
        raise RuntimeError(f"{url}: {page.locator(FAILED).first.inner_text()[:2000]}")
    return seconds


def _new_range(page: Any, first_day: str) -> float:
    """Type a range of about 30 days, a month after the first event (the date field's month segments, then
    a click outside commits it); seconds from the commit until the first chart's x range has changed."""
    month = int(first_day[5:7])
    assert month <= 10, "the bench's data starts early in a year"
    page.wait_for_timeout(1500)  # let the first run finish drawing the rest of the page
    before = page.evaluate(X_RANGE)
    page.get_by_role("spinbutton", name="month, Date range (UTC) start date").click()
    page.keyboard.type(f"{month + 1:02d}")
    page.get_by_role("spinbutton", name="month, Date range (UTC) end date").click()
    page.keyboard.type(f"{month + 2:02d}")
    started = time.perf_counter()
    page.locator("h1").first.click()
    page.wait_for_function(f"() => ({X_RANGE})() !== {before!r} && ({X_RANGE})() !== ''", polling=50, timeout=300_000)
    return time.perf_counter() - started


def measure(
    browser: Any, returning: Any, view: View, first_day: str, apps: list[Path], first_visit: bool
) -> list[Timings]:
    """``REPEAT`` rounds, each app in turn: (``first_visit``: a new browser profile against a fresh app
    process, then) the returning browser (Streamlit's files cached, as after a server restart) against
    another fresh app process: cold, a reload (warm) and a new range."""
    out = [Timings() for _ in apps]
    for _ in range(REPEAT):
        for app_dir, t in zip(apps, out, strict=True):
            if first_visit:
                server = Server(view.script, view.env, view.args, app_dir)
                context = browser.new_context(viewport={"width": 1400, "height": 1600})
                try:
                    t.first_visit.append(_timed_load(context.new_page(), f"{server.url}/{view.path}", view.drawn))
                finally:
                    context.close()
                    server.stop()
            server = Server(view.script, view.env, view.args, app_dir)
            page = returning.new_page()
            try:
                url = f"{server.url}/{view.path}"
                t.cold.append(_timed_load(page, url, view.drawn))
                page.wait_for_timeout(1500)  # the first run's tail (charts below the first) before the reload
                t.warm.append(_timed_load(page, url, view.drawn, reload=True))
                if view.date_range:
                    t.ranged.append(_new_range(page, first_day))
                page.wait_for_timeout(500)
                t.peak_mb.append(server.peak_mb())
                t.start.append(server.start_seconds)
            finally:
                page.close()
                server.stop()
    return out


def _views(n: int, folder: Path, events: Path) -> list[View]:
    env = {"FLYWHEEL_DATA_DIR": str(folder)}
    app = None
    ws = "workspace=bench"
    views = [
        View(f"Interaction data, Explore, {n // 1_000_000}M", app, f"interaction_data?{ws}&data.tab=Explore",
             env=env, date_range=True),
        View("Overview (first data grid)", app, f"?{ws}", drawn=GRID, env=env),
        View("Compounding vs plateau", app, f"curves?{ws}", env=env),
        View("Train & compare (registry chart)", app, f"train_compare?{ws}&train_compare.tab=Registry+%26+compare",
             env=env),
        View("bare Streamlit + Polars page", HERE / "bare_page.py", args=(str(events),), date_range=False),
    ]  # fmt: skip
    if not _trained(events):  # no model versions: no registry chart to wait for
        views = [v for v in views if not v.label.startswith("Train")]
    only = os.environ.get("FLYWHEEL_BENCH_PAGES_ONLY")  # e.g. "Interaction,bare": the views whose label starts so
    if only:
        views = [v for v in views if v.label.startswith(tuple(only.split(",")))]
    return views


def _first_day(events: Path) -> str:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    stamps = pq.read_table(events, columns=["timestamp"]).column("timestamp")
    return str(pc.min(stamps).as_py().date())


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s" if values else "     —  "


def _line(label: str, t: Timings, floor: Timings | None) -> str:
    peak = f"{max(t.peak_mb):6.0f} MB" if t.peak_mb else ""
    times = f"{_median(t.first_visit)} {_median(t.cold)} {_median(t.warm)} {_median(t.ranged):>9}"
    ratio = ""
    if floor:
        ratio = f"{statistics.median(t.cold) / statistics.median(floor.cold):.1f}x / {statistics.median(t.warm) / statistics.median(floor.warm):.1f}x"
    return f"  {label:<44} {times} {peak:>9} {_median(t.start):>8}  {ratio}"


def main() -> None:
    from playwright.sync_api import sync_playwright

    print(f"# load average before: {Path('/proc/loadavg').read_text().strip()}")
    for label, folder in APPS:
        print(f"# app {label or '(this checkout)'}: {folder} at {_commit(folder)}")
    print(f"\n## pages: first chart visible in Chromium (medians of {REPEAT}; every cold load a fresh app process)")
    print(f"  {'page':<44} {'1st visit':>8} {'cold':>8} {'warm':>8} {'new range':>9} {'peak RSS':>9} {'start':>8}"
          "  cold / warm vs the floor")  # fmt: skip
    floor_script = Path(tempfile.mkdtemp()) / "floor_page.py"
    floor_script.write_text(FLOOR_PAGE)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        returning = browser.new_context(viewport={"width": 1400, "height": 1600})
        try:
            server = Server(floor_script, {})  # the returning browser's first visit: Streamlit's files cached
            _timed_load(returning.new_page(), server.url, DRAWN)
            server.stop()
            (floor,) = measure(browser, returning, View("floor", floor_script), "", [REPO], first_visit=True)
            print(_line("floor: Streamlit page, a 3-point chart", floor, None), flush=True)
            for n in sizes():
                events = events_file(n)
                folder = data_folder(events)
                first_day = _first_day(events)
                for view in _views(n, folder, events):
                    label = view.label if "Explore" in view.label else f"  {view.label}, {n // 1_000_000}M"
                    apps = [folder for _, folder in APPS] if view.script is None else [REPO]
                    found = measure(browser, returning, view, first_day, apps, first_visit=view.script is not None)
                    for (app, _), timings in zip(APPS, found, strict=False):
                        shown = f"{label} [{app}]" if app and view.script is None else label
                        print(_line(shown, timings, floor), flush=True)
        finally:
            returning.close()
            browser.close()
    print("  [target: every page's first chart ≤ 1.5 s cold, ≤ 0.5 s warm]")
    print("  1st visit: a new browser profile; cold: a fresh app process, the browser's cache holding Streamlit's")
    print("  files; warm: a reload; start: `flywheel app` (or `streamlit run`) until /_stcore/health answers")
    print(f"# load average after: {Path('/proc/loadavg').read_text().strip()}")


def _commit(folder: Path) -> str:
    found = subprocess.run(["git", "-C", str(folder), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain"], capture_output=True, text=True)
    if found.returncode:
        return "(not a git checkout)"
    return found.stdout.strip() + (" + changes" if dirty.stdout.strip() else "")


if __name__ == "__main__":
    main()
