"""Deterministic synthetic interaction logs for four loop archetypes from the seeds.

Each archetype carries the mechanism its story tells, so experiments on it can show the effect:

- ``music`` — a streaming service (Spotify): many items whose appeal is shared by every listener, so
  each user's plays improve everyone's recommendations (network learning) and the model keeps improving
  as the catalogue fills with history; the audience grows. Streams, skips (a stream under 30 s counts as a
  skip), saves, thumbs down. Streaming-fraud bots replay a few promoted tracks (that listeners mostly skip)
  every 31-34 s without a pause, and the logging pipeline wrote some plays twice (exact duplicates): both
  are what curation should remove. Background autoplay is rarely skipped and almost never saved, so a model
  trained toward streams learns the wrong incentive against saves.
- ``support`` — a support assistant (Klarna): a couple of dozen intents, learnt after a few weeks; what
  remains is each customer's own patience (individual learning). The model plateaus early. Resolved,
  escalated and 1-5 satisfaction ratings that cluster at the extremes.
- ``fleet`` — a vehicle fleet (Tesla's trigger): sensor snapshots with a sharp but unknown decision
  boundary over six conditions (and three sensors that do not matter); disengagements are the rare edge
  cases (about one snapshot in twelve); the onboard model's uncertainty is logged in ``score``. Labels spent
  on the uncertain snapshots teach far more than the same number chosen at random.
- ``backward`` — a loop that feeds on its own outputs: a growing share of the "feedback" is the model's own
  auto-accepted output, which carries no information about what users want, so each version trained on
  the newer data does worse on what users do next.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from flywheel_core.exceptions import DataValidationError

if TYPE_CHECKING:
    from flywheel_core.storage.store import Store

__all__ = [
    "ARCHETYPES",
    "DEMO_SIGNALS",
    "DEMO_WORKSPACE",
    "Archetype",
    "DemoResult",
    "demo_dataset_name",
    "load_demo_workspace",
    "make_demo_events",
]

START = pd.Timestamp("2026-01-05", tz="UTC")
WEEKS = 26
MIN_EVENTS, MAX_EVENTS = 1_000, 5_000_000


@dataclass(frozen=True)
class Archetype:
    key: str
    title: str
    story: str
    template: str  # the loop-map template it pairs with


ARCHETYPES: dict[str, Archetype] = {
    "music": Archetype("music", "Music streaming", "network learning that compounds", "spotify"),
    "support": Archetype("support", "Support assistant", "optimises, then plateaus", "klarna"),
    "fleet": Archetype("fleet", "Vehicle fleet", "capture triggered by model uncertainty", "tesla"),
    "backward": Archetype("backward", "Self-feeding loop", "trains on its own outputs and spins backward", "spotify"),
}

# The signal dictionary each archetype's events are meant to be read with:
# event -> (kind, polarity, weight). Rules on value are in DEMO_RULES.
DEMO_SIGNALS: dict[str, dict[str, tuple[str, str, float]]] = {
    "music": {
        "stream": ("implicit", "positive", 1.0),
        "skip": ("implicit", "negative", 1.0),
        "save": ("explicit", "positive", 3.0),
        "thumbs_down": ("explicit", "negative", 3.0),
    },
    "support": {
        "resolved": ("implicit", "positive", 1.0),
        "escalated": ("implicit", "negative", 1.0),
        "rating": ("explicit", "neutral", 2.0),
    },
    "fleet": {
        "drive_ok": ("implicit", "positive", 1.0),
        "disengage": ("implicit", "negative", 2.0),
    },
    "backward": {
        "click": ("implicit", "positive", 1.0),
        "dismiss": ("implicit", "negative", 1.0),
        "auto_accept": ("implicit", "positive", 1.0),
        "auto_reject": ("implicit", "negative", 1.0),
    },
}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _timeline(rng: np.random.Generator, n: int, growth: float) -> np.ndarray:
    """Event times in weeks from START, sorted, density proportional to exp(growth * t)."""
    u = rng.random(n)
    t = u * WEEKS if abs(growth) < 1e-09 else np.log1p(u * np.expm1(growth * WEEKS)) / growth
    return np.sort(t)


def _assign_users(rng: np.random.Generator, t: np.ndarray, n_users: int, growth: float) -> np.ndarray:
    """Pick, for each event time, a user who has already arrived (earlier users are more active)."""
    arrivals = _timeline(rng, n_users, growth)
    arrivals[: max(1, n_users // 20)] = 0.0  # a launch cohort present from day one
    arrivals.sort()
    arrived = np.maximum(np.searchsorted(arrivals, t, side="right"), 1)
    return np.minimum((arrived * rng.random(len(t)) ** 1.3).astype(np.int64), arrived - 1)


def _popular(rng: np.random.Generator, n: int, n_items: int, skew: float = 2.5) -> np.ndarray:
    return np.minimum((n_items * rng.random(n) ** skew).astype(np.int64), n_items - 1)


def _frame(
    t: np.ndarray,
    user: np.ndarray,
    item: np.ndarray,
    event: np.ndarray,
    value: np.ndarray,
    user_prefix: str,
    item_prefix: str,
    extra: dict[str, np.ndarray],
) -> pd.DataFrame:
    seconds = np.round(t * 7 * 86_400).astype("int64")
    frame = pd.DataFrame(
        {
            "user": np.char.add(user_prefix, np.char.zfill(user.astype(str), 6)),
            "item": np.char.add(item_prefix, np.char.zfill(item.astype(str), 5)),
            "timestamp": START + pd.to_timedelta(seconds, unit="s"),
            "event": event,
            "value": value,
        }
    )
    for name, column in extra.items():
        frame[name] = column
    frame["user"] = frame["user"].astype("str")
    frame["item"] = frame["item"].astype("str")
    frame["event"] = frame["event"].astype("str")
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


def _stream_bots(
    rng: np.random.Generator, n_events: int, first_bot: int, n_bots: int, promoted: np.ndarray
) -> dict[str, np.ndarray]:
    """Streaming-fraud accounts: each replays one or two promoted tracks every 31-34 s (just past the 30-second
    royalty rule) in long sessions with no pause, at a few random times in the middle of the half-year.

    Returns per-event arrays: time in weeks, user, item, seconds played.
    """
    bot = first_bot + np.arange(n_events) % n_bots
    bot.sort()
    times, tracks = np.empty(n_events), np.empty(n_events, dtype=np.int64)
    for b in np.unique(bot):
        rows = np.flatnonzero(bot == b)
        sessions = np.array_split(rows, int(rng.integers(1, 3)))
        favourite, other = rng.choice(promoted, size=2, replace=False)
        for part in sessions:
            start_s = rng.uniform(4, WEEKS - 4) * 7 * 86_400
            times[part] = (start_s + np.cumsum(rng.integers(31, 35, len(part)))) / (7 * 86_400)
            tracks[part] = np.where(rng.random(len(part)) < 0.8, favourite, other)
    return {"t": times, "user": bot, "item": tracks, "seconds": rng.uniform(31, 34, n_events)}


def _music(rng: np.random.Generator, n: int) -> pd.DataFrame:
    n_users = max(60, n // 60)
    n_items = int(np.clip(n // 15, 300, 40_000))
    n_bots = max(3, n_users // 10)
    n_bot_events = n * 8 // 100  # 8% of the log
    n_human = n - n_bot_events
    growth = 0.09
    t = _timeline(rng, n_human, growth)
    user = _assign_users(rng, t, n_users, growth)
    item = _popular(rng, n_human, n_items, skew=1.8)
    appeal = rng.normal(0.0, 1.6, n_items)  # shared by every listener: the network effect
    promoted = np.arange(8)  # the most played tracks, pushed by a promoter's bots; listeners mostly skip them
    appeal[promoted] = -2.0
    taste = rng.normal(0.0, 0.5, n_users)
    hour = rng.integers(0, 24, n_human)
    device = rng.integers(0, 3, n_human)
    # Background autoplay is rarely skipped but almost never saved: streams reward it, saves do not.
    autoplay = rng.random(n_human) < 0.3
    logit = appeal[item] + taste[user] + 0.15 * (device == 1) + 1.2 * autoplay - 0.3
    positive = rng.random(n_human) < _sigmoid(logit)
    seconds = np.where(positive, rng.uniform(30, 240, n_human), rng.uniform(2, 29, n_human))
    explicit = rng.random(n_human)
    event = np.where(positive, "stream", "skip").astype(object)
    # The 30-second rule: some logged "streams" were abandoned early and count as skips.
    early = (~positive) & (rng.random(n_human) < 0.25)
    event[early] = "stream"
    event[positive & ~autoplay & (explicit < 0.12) & (appeal[item] > 0.8)] = "save"
    event[(~positive) & (explicit < 0.03)] = "thumbs_down"
    bots = _stream_bots(rng, n_bot_events, n_users, n_bots, promoted)
    t = np.concatenate([t, bots["t"]])
    user = np.concatenate([user, bots["user"]])
    frame = _frame(
        t,
        user,
        np.concatenate([item, bots["item"]]),
        np.concatenate([event, np.full(n_bot_events, "stream", dtype=object)]),
        np.round(np.concatenate([seconds, bots["seconds"]]), 1),
        "u",
        "track",
        {
            "session": np.char.add("s", (user * 1000 + (t * 7).astype(np.int64)).astype(str)),
            "f_hour": np.concatenate([hour, rng.integers(0, 24, n_bot_events)]).astype(float),
            "f_device": np.concatenate([device, np.full(n_bot_events, 2)]).astype(float),
            "f_autoplay": np.concatenate([autoplay, np.zeros(n_bot_events, dtype=bool)]).astype(float),
        },
    )
    # The logging pipeline retried some writes: exact duplicate rows of listeners' plays.
    humans = np.flatnonzero(~frame["user"].isin({f"u{n_users + i:06d}" for i in range(n_bots)}).to_numpy())
    dup = frame.iloc[np.sort(rng.choice(humans, size=max(1, n // 100), replace=False))]
    return pd.concat([frame, dup]).sort_values("timestamp", kind="stable").reset_index(drop=True)


def _support(rng: np.random.Generator, n: int) -> pd.DataFrame:
    n_users = max(80, n // 15)
    n_intents = 24
    t = _timeline(rng, n, 0.02)
    user = _assign_users(rng, t, n_users, 0.02)
    intent = _popular(rng, n, n_intents, skew=1.5)
    complexity = np.linspace(-1.5, 2.0, n_intents)
    patience = rng.normal(0.0, 1.2, n_users)  # each customer's own: individual learning
    channel = rng.integers(0, 2, n)
    logit = 1.2 - 1.1 * complexity[intent] + patience[user] + 0.3 * channel
    resolved = rng.random(n) < _sigmoid(logit)
    event = np.where(resolved, "resolved", "escalated").astype(object)
    value = np.full(n, np.nan)
    rated = rng.random(n) < 0.15
    # Explicit ratings come from the delighted and the furious: they cluster at 1 and 5.
    value[rated] = np.where(
        resolved[rated], rng.choice([5, 5, 5, 4, 3], rated.sum()), rng.choice([1, 1, 1, 2, 3], rated.sum())
    )
    event[rated] = "rating"
    return _frame(
        t,
        user,
        intent,
        event,
        value,
        "c",
        "intent",
        {
            "f_channel": channel.astype(float),
            "f_message_chars": np.round(rng.gamma(2.0, 80.0, n) + 40 * complexity[intent].clip(0)),
        },
    )


def _fleet(rng: np.random.Generator, n: int) -> pd.DataFrame:
    n_cars = max(40, n // 200)
    t = _timeline(rng, n, 0.03)
    car = _assign_users(rng, t, n_cars, 0.03)
    segment = _popular(rng, n, max(100, n // 100), skew=1.2)
    speed = rng.uniform(0, 130, n)
    visibility = rng.uniform(0, 1, n)
    curvature = rng.exponential(0.3, n)
    traffic = rng.uniform(0, 1, n)
    grip = rng.uniform(0, 1, n)  # road grip (wet, ice)
    glare = rng.uniform(0, 1, n)
    # A sharp boundary: most snapshots are easy, the hard ones sit close to it, and disengagements are the
    # rare edge cases (about one snapshot in twelve): labels spent at random mostly land on easy driving.
    margin = 4.6 - 0.025 * speed + 2.5 * visibility - 3.0 * curvature - 1.2 * traffic + 1.5 * grip - 2.0 * glare
    ok = rng.random(n) < _sigmoid(6.0 * margin)
    onboard = _sigmoid(6.0 * (margin + rng.normal(0, 0.4, n)))
    uncertainty = 1.0 - 2.0 * np.abs(onboard - 0.5)
    event = np.where(ok, "drive_ok", "disengage")
    return _frame(
        t,
        car,
        segment,
        event,
        np.full(n, np.nan),
        "car",
        "seg",
        {
            "score": np.round(uncertainty, 4),
            "f_speed_kmh": np.round(speed, 1),
            "f_visibility": np.round(visibility, 3),
            "f_curvature": np.round(curvature, 3),
            "f_traffic": np.round(traffic, 3),
            "f_grip": np.round(grip, 3),
            "f_glare": np.round(glare, 3),
            # sensors that have nothing to do with disengaging: a model must learn to ignore them
            "f_cabin_temp_c": np.round(rng.normal(21, 3, n), 1),
            "f_battery_pct": np.round(rng.uniform(10, 100, n), 0),
            "f_tyre_kpa": np.round(rng.normal(240, 10, n), 0),
        },
    )


def _backward(rng: np.random.Generator, n: int) -> pd.DataFrame:
    n_users = max(60, n // 50)
    n_items = int(np.clip(n // 40, 200, 20_000))
    t = _timeline(rng, n, 0.0)
    user = _assign_users(rng, t, n_users, 0.0)
    item = _popular(rng, n, n_items, skew=1.8)
    appeal = rng.normal(0.0, 1.6, n_items)
    drift = rng.normal(0.0, 2.0, n_items)  # what users want moves away from what the model learnt
    logit = appeal[item] + (t / WEEKS) * drift[item] - 0.1
    liked = rng.random(n) < _sigmoid(logit)
    # The share of feedback that is the model's own output grows from 0 to about 65%.
    own = rng.random(n) < 0.65 * (t / WEEKS) ** 1.2
    echoed = rng.random(n) < 0.6  # the model accepts its own suggestions: no information about users
    event = np.where(own, np.where(echoed, "auto_accept", "auto_reject"), np.where(liked, "click", "dismiss"))
    return _frame(
        t,
        user,
        item,
        event,
        np.full(n, np.nan),
        "u",
        "doc",
        {
            "model_version": np.char.add("v", (1 + (t // 4).astype(np.int64)).astype(str)),
            "f_position": rng.integers(1, 11, n).astype(float),
        },
    )


_GENERATORS = {"music": _music, "support": _support, "fleet": _fleet, "backward": _backward}


def make_demo_events(archetype: str, n_events: int = 20_000, *, random_state: int = 7) -> pd.DataFrame:
    """Generate a deterministic interaction log of about ``n_events`` rows for an archetype.

    Columns: ``user``, ``item``, ``timestamp`` (UTC), ``event``, ``value``, optional ``session``,
    ``model_version``, ``score`` and ``f_*`` feature columns.

    Raises:
        DataValidationError: unknown archetype or a size outside 1,000 to 5,000,000 events.
    """
    if archetype not in _GENERATORS:
        raise DataValidationError(
            f"Unknown demo archetype '{archetype}'. Choose one of: {', '.join(sorted(_GENERATORS))}."
        )
    if not MIN_EVENTS <= n_events <= MAX_EVENTS:
        raise DataValidationError(
            f"Demo size must be between {MIN_EVENTS:,} and {MAX_EVENTS:,} events, got {n_events:,}."
        )
    rng = np.random.default_rng([random_state, sorted(_GENERATORS).index(archetype)])
    return _GENERATORS[archetype](rng, n_events)


# --- the Demo workspace ---------------------------------------------------------------------------------

DEMO_WORKSPACE = "Demo"


@dataclass(frozen=True)
class DemoResult:
    workspace: str
    datasets_created: tuple[str, ...]
    datasets_kept: tuple[str, ...]
    loops_saved: tuple[str, ...]
    versions_trained: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "workspace": self.workspace,
            "datasets_created": list(self.datasets_created),
            "datasets_kept": list(self.datasets_kept),
            "loops_saved": list(self.loops_saved),
            "versions_trained": self.versions_trained,
        }

    def describe(self) -> str:
        parts = [f"Workspace '{self.workspace}' is ready."]
        if self.datasets_created:
            parts.append(f"Created datasets: {', '.join(self.datasets_created)}.")
        if self.datasets_kept:
            parts.append(f"Already up to date: {', '.join(self.datasets_kept)}.")
        if self.loops_saved:
            parts.append(f"Loop maps saved: {', '.join(self.loops_saved)}.")
        if self.versions_trained:
            parts.append(f"Model versions trained: {self.versions_trained}.")
        return " ".join(parts)


def demo_dataset_name(archetype: str) -> str:
    return f"{ARCHETYPES[archetype].title} (demo)"


def load_demo_workspace(store: Store, *, actor: str, n_events: int = 30_000) -> DemoResult:
    """Create or refresh the "Demo" workspace: one dataset per archetype and the seed loop maps.

    Idempotent: a dataset whose content is unchanged is kept; one generated at another size is replaced.
    """
    from flywheel_core.data.api import store_frame
    from flywheel_core.data.signals import SignalSpec
    from flywheel_core.exceptions import NotFoundError

    workspace = store.ensure_workspace(name=DEMO_WORKSPACE, actor=actor)
    assert workspace.id is not None
    existing = {d.name: d for d in store.list_datasets(workspace_id=workspace.id)}
    created, kept = [], []
    for key in ARCHETYPES:
        name = demo_dataset_name(key)
        frame = make_demo_events(key, n_events)
        signals = {event: SignalSpec(*spec) for event, spec in DEMO_SIGNALS[key].items()}
        if name in existing:
            if existing[name].rows == len(frame):
                kept.append(name)
                continue
            with contextlib.suppress(NotFoundError):
                store.delete_dataset(workspace_id=workspace.id, name=name, actor=actor)
        store_frame(
            store,
            workspace_id=workspace.id,
            frame=frame,
            dataset=name,
            actor=actor,
            signals=signals,
            source_name=f"demo-{key}-{n_events}.parquet",
        )
        created.append(name)
    loops = _demo_loops(store, workspace_id=workspace.id, actor=actor)
    trained = _demo_versions(store, workspace_id=workspace.id, actor=actor)
    return DemoResult(DEMO_WORKSPACE, tuple(created), tuple(kept), tuple(loops), trained)


DEMO_TURNS = 6


def _demo_versions(store: Store, *, workspace_id: int, actor: str) -> int:
    """Train six logistic versions on each demo dataset that has none, so every page has something to show."""
    from flywheel_core.learning.api import run_training

    trained = 0
    for dataset in store.list_datasets(workspace_id=workspace_id):
        if store.list_model_versions(workspace_id=workspace_id, dataset_id=dataset.id):
            continue
        trained += len(
            run_training(
                store,
                workspace_id=workspace_id,
                dataset_name=dataset.name,
                actor=actor,
                task="feedback",
                model="logistic",
                n_turns=DEMO_TURNS,
                n_jobs=1,
            )
        )
    return trained


def _demo_loops(store: Store, *, workspace_id: int, actor: str) -> list[str]:
    """Save the seed-case loop maps into the demo workspace (each only once)."""
    try:
        from flywheel_core.loop.model import TEMPLATES, template_map  # built by the loop-map capability
    except ImportError:
        return []
    saved = []
    present = {loop.name for loop in store.list_loops(workspace_id=workspace_id)}
    for key in TEMPLATES:
        loop_map = template_map(key)
        if loop_map.name in present:
            continue
        store.save_loop(
            workspace_id=workspace_id,
            name=loop_map.name,
            content=loop_map.to_json(),
            actor=actor,
            base_version=None,
            note="from the seed template",
        )
        saved.append(loop_map.name)
    return saved
