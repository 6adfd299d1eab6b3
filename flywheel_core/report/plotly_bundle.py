"""The report's charts as compact inline plotly: a vendored partial plotly.js bundle and lean figure JSON.

The full plotly.js is 4.8 MB; the report draws only scatter and bar traces, so it inlines plotly.js's
"basic" partial bundle (scatter, bar, pie; 1.19 MB, MIT, see ``vendor/README.md``), the same plotly.js
release the Python ``plotly`` package ships. Each figure's JSON is trimmed without changing what it draws:
the layout template shared by every chart is written once, floats in trace arrays keep 6 significant
digits, and midnight timestamps are written as dates. A trace type outside the bundle is refused, since
it would draw an empty box.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["BUNDLE_TRACE_TYPES", "BUNDLE_VERSION", "bundle_js", "chart_div", "template_script"]

BUNDLE_VERSION = "4.1.1"
BUNDLE_TRACE_TYPES = frozenset({"scatter", "bar", "pie"})
_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["sendDataToCloud"]}
_MIDNIGHT = re.compile(r"^(\d{4}-\d{2}-\d{2})T00:00:00(?:\.0+)?$")


@cache
def bundle_js() -> str:
    """The vendored plotly.js partial bundle (its licence header included)."""
    return files("flywheel_core.report").joinpath("vendor/plotly-basic.min.js").read_text(encoding="utf-8")


def _lean(value: Any) -> Any:
    """Trace values with floats at 6 significant digits and midnight timestamps as dates."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, str):
        match = _MIDNIGHT.match(value)
        return match.group(1) if match else value
    if isinstance(value, list | tuple):
        return [_lean(v) for v in value]
    if isinstance(value, dict):
        return {k: _lean(v) for k, v in value.items()}
    return value


def _json(value: object) -> str:
    from plotly.io.json import to_json_plotly

    text: str = to_json_plotly(value)  # escapes < and >, so no user text can close the script element
    return text


def _figure_parts(fig: go.Figure) -> tuple[list[Any], dict[str, Any]]:
    from plotly.io._utils import validate_coerce_fig_to_dict

    spec = validate_coerce_fig_to_dict(fig, True)  # numpy arrays become compact base64 typed arrays here
    data, layout = list(spec.get("data", [])), dict(spec.get("layout", {}))
    unknown = sorted({str(t.get("type", "scatter")) for t in data} - BUNDLE_TRACE_TYPES)
    if unknown:
        raise ValueError(
            f"The report's plotly.js bundle cannot draw {', '.join(unknown)} traces; it draws "
            f"{', '.join(sorted(BUNDLE_TRACE_TYPES))}. Vendor a larger partial bundle (vendor/README.md)."
        )
    return [_lean(t) for t in data], layout


def template_script(first: go.Figure) -> tuple[str, dict[str, Any] | None]:
    """The script that defines ``flywheelPlot`` and the template it gives every chart (the first chart's)."""
    template = _figure_parts(first)[1].get("template")
    script = (
        f"var FLYWHEEL_TEMPLATE={_json(template) if template is not None else 'null'};"
        "function flywheelPlot(id,data,layout,config){"
        "if(FLYWHEEL_TEMPLATE&&!layout.template){layout.template=FLYWHEEL_TEMPLATE;}"
        "return Plotly.newPlot(id,data,layout,config);}"
    )
    return script, template


def chart_div(fig: go.Figure, chart_id: str, shared_template: dict[str, Any] | None) -> str:
    """One chart: a div and the ``flywheelPlot`` call that draws it (the shared template left out)."""
    data, layout = _figure_parts(fig)
    if shared_template is not None and layout.get("template") == shared_template:
        del layout["template"]
    height = layout.get("height")
    style = f"height:{int(height)}px;width:100%" if isinstance(height, int | float) else "height:450px;width:100%"
    return (
        f'<div id="{chart_id}" class="plotly-graph-div" style="{style}"></div>'
        f'<script>flywheelPlot("{chart_id}", {_json(data)}, {_json(layout)}, {_json(_CONFIG)});</script>'
    )
