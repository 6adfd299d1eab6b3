"""Loop maps: diagnosis and JSON round-trip per map, and canvas lint on a large log.

References: ``json.loads(json.dumps(...))`` of the same map (the floor for any JSON round-trip), and
``profile_events`` alone on the same events (the floor for canvas lint, which profiles then compares).
Target: a page rerun's work (parse + diagnose + DOT) well under 50 ms; lint within 1.2x the profile.
"""

from __future__ import annotations

import json

from common import Figure, median_time, report


def main() -> None:
    from flywheel_core.data.analytics import profile_events
    from flywheel_core.data.signals import SignalDictionary, SignalSpec
    from flywheel_core.demo import DEMO_SIGNALS, make_demo_events
    from flywheel_core.loop.diagnosis import diagnose, to_markdown
    from flywheel_core.loop.lint import lint_loop
    from flywheel_core.loop.model import TEMPLATES, LoopMap, template_map
    from ui.loop_diagram import loop_dot

    maps = [template_map(k) for k in TEMPLATES]
    blobs = [m.to_json() for m in maps]
    n = len(maps)

    def per_map(seconds: float) -> str:
        return f"{seconds / n * 1e6:,.0f} µs per map"

    figures = [
        Figure(
            f"parse + check {n} maps (from_json)",
            median_time(lambda: [LoopMap.from_json(b) for b in blobs], repeat=20),
            "json.loads(json.dumps) of the same maps",
            median_time(lambda: [json.loads(json.dumps(b)) for b in blobs], repeat=20),
        ),
        Figure(f"diagnose {n} maps", median_time(lambda: [diagnose(m) for m in maps], repeat=20)),
        Figure(
            f"page rerun work x{n}: parse, diagnose, DOT",
            median_time(lambda: [loop_dot(m, diagnose(m)) for m in (LoopMap.from_json(b) for b in blobs)], repeat=20),
            target="< 50 ms per map",
        ),
        Figure(f"Markdown brief of {n} maps", median_time(lambda: [to_markdown(m) for m in maps], repeat=10)),
    ]
    for figure in figures:
        figure.name += f" ({per_map(figure.seconds)})"
    for rows in (100_000, 1_000_000):
        events = make_demo_events("music", rows)
        dictionary = SignalDictionary({e: SignalSpec(*s) for e, s in DEMO_SIGNALS["music"].items()})
        loop_map = template_map("spotify")
        profile_s = median_time(lambda events=events, d=dictionary: profile_events(events, d), repeat=5)
        lint_s = median_time(
            lambda events=events, d=dictionary, m=loop_map: lint_loop(m, profile_events(events, d), d), repeat=5
        )
        figures.append(
            Figure(
                f"canvas lint, {rows:,} events", lint_s, "profile_events alone", profile_s, rows=rows, target="≤ 1.2x"
            )
        )
    report("Loop maps", figures)


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
