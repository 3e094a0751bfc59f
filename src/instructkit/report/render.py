"""The HTML page: a jinja2 template with autoescaping, charts inlined as SVG, no script at all.

Dataset text is data: every value from a record goes through jinja2's
autoescape into element text (never into an attribute, URL, style or script),
and the page's Content-Security-Policy forbids scripts and every fetch, so
even a mistake in the template could not run a record or call out.
"""

from __future__ import annotations

import time
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from instructkit import __version__
from instructkit.report import plots
from instructkit.report.figures import Figures

#: No script, no fetch: styles inline, images only as data: URLs (the rasterised scatter).
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("instructkit.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    env.filters["pct"] = lambda v: "–" if v is None else f"{v:.1%}"
    return env


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def charts(fig: Figures) -> dict[str, Any]:
    """Every chart the data allows, as trusted SVG markup (matplotlib escapes its text)."""
    out: dict[str, Any] = {"distributions": []}
    if fig.funnel:
        out["funnel"] = Markup(plots.funnel(fig.funnel))
    if fig.records:
        for col in fig.columns:
            if (~_isnan(col.values)).any():
                svg = plots.distribution(col.name, col.values, fig.source_of, col.discrete)
                out["distributions"].append((col.name, Markup(svg)))
    if fig.languages:
        out["languages"] = Markup(plots.languages(fig.languages))
    sel = fig.selection
    if sel and sel.get("pool_xy") is not None and len(sel["selected_xy"]):
        out["coverage"] = Markup(plots.coverage(sel["pool_xy"], sel["selected_xy"]))
    return out


def _isnan(values: Any) -> Any:
    import numpy as np

    return np.isnan(values)


def render(fig: Figures, recipe: str | None = None) -> str:
    """The whole page as one string."""
    started = time.perf_counter()
    chart = charts(fig)
    return (
        _env()
        .get_template("report.html.j2")
        .render(
            fig=fig,
            chart=chart,
            csp=CSP,
            recipe=recipe,
            version=__version__,
            chart_seconds=time.perf_counter() - started,
        )
    )
