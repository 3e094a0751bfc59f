"""Static SVG charts drawn with matplotlib, inlined in the page.

Static SVG keeps the page script-free (its Content-Security-Policy forbids
every script), small (text stays text: ``svg.fonttype = none``) and readable
in any mail client or offline browser; docs/report.md says why not plotly or
vega.  Labels that come from the data (source names) are escaped by
matplotlib's SVG writer, and math parsing is off, so a ``$`` in a name is text.
"""

from __future__ import annotations

import io
import itertools
import re
from collections import Counter

import numpy as np

#: Sources drawn separately in a chart; the rest are pooled as "other sources".
MAX_SERIES = 8
LANGS_SHOWN = 8
COLORS = ("#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951", "#ff8ab7", "#a463f2", "#97bbf5")
_ids = itertools.count()


def _plt():  # noqa: ANN202 (matplotlib's module)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "svg.fonttype": "none",
            "text.parse_math": False,
            "font.size": 9,
            "font.family": "sans-serif",
            "font.sans-serif": ["DejaVu Sans"],  # one name in every <text>, not a list of ten
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
        }
    )
    return plt


def to_svg(fig) -> str:  # noqa: ANN001
    """The figure as an inline ``<svg>`` element (no XML prolog), with ids unique in the page."""
    plt = _plt()
    buf = io.StringIO()
    # Clip-path ids derive from this salt: one per chart, so two inline SVGs never share an id.
    with plt.rc_context({"svg.hashsalt": f"chart{next(_ids)}"}):
        # A fixed layout draws the figure once; bbox_inches="tight" would draw it twice.
        fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    return shrink(buf.getvalue())


_METADATA = re.compile(r"<metadata>.*?</metadata>", re.S)
_TAG = re.compile(r"<[^>]+>")
_DECIMALS = re.compile(r"(\d\.\d)\d+")


def shrink(svg: str) -> str:
    """Drop the XML prolog and metadata, round coordinates inside tags to 0.1 pt, trim line breaks.

    Only tag contents are rounded: text between tags (tick labels, names) stays as written.
    """
    svg = _METADATA.sub("", svg[svg.index("<svg") :])
    svg = _TAG.sub(lambda m: _DECIMALS.sub(r"\1", m.group(0)), svg)
    return re.sub(r"\s*\n\s*", "\n", svg)


def funnel(rows: list[dict]) -> str:
    """Records into and out of each step, rejects stacked on the kept records."""
    plt = _plt()
    labels = [r["label"] for r in rows]
    kept = np.array([r["records_out"] for r in rows])
    dropped = np.array([sum(r["rejected"].values()) for r in rows])
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(rows) + 0.8), layout="constrained")
    y = np.arange(len(rows))[::-1]
    ax.barh(y, kept, color=COLORS[0], label="kept")
    ax.barh(y, dropped, left=kept, color=COLORS[2], label="rejected")
    ax.set_yticks(y, labels)
    ax.set_xlabel("records")
    ax.legend(loc="lower right", fontsize=8)
    return to_svg(fig)


def _series(values: np.ndarray, sources: np.ndarray) -> list[tuple[str, np.ndarray]]:
    names = [s for s, _ in Counter(sources.tolist()).most_common()]
    out = [(s, values[sources == s]) for s in names[:MAX_SERIES]]
    if len(names) > MAX_SERIES:
        rest = np.isin(sources, names[MAX_SERIES:])
        out.append((f"{len(names) - MAX_SERIES} other sources", values[rest]))
    return out


def distribution(name: str, values: np.ndarray, sources: np.ndarray, discrete: bool) -> str:
    """Share of each source's records per bin (outline histograms, so sources overlay)."""
    plt = _plt()
    ok = ~np.isnan(values)
    values, sources = values[ok], sources[ok]
    lo, hi = np.percentile(values, [0, 99]) if len(values) else (0.0, 1.0)
    if discrete:
        hi = max(float(hi), lo + 1)
        bins = np.arange(np.floor(lo), np.ceil(hi) + 2) - 0.5
    else:
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 31)
    fig, ax = plt.subplots(figsize=(5.6, 2.3))
    fig.subplots_adjust(left=0.12, right=0.98, top=0.97, bottom=0.2)
    for color, (src, vals) in zip(itertools.cycle(COLORS), _series(values, sources)):
        clipped = np.clip(vals, bins[0], bins[-1])
        weights = np.full(len(vals), 1 / len(vals)) if len(vals) else None
        ax.hist(
            clipped, bins=bins, weights=weights, histtype="step", lw=1.4, color=color,
            label=f"{src} (n={len(vals):,})",
        )  # fmt: skip
    ax.set_xlabel(name + ("" if discrete else " (values past the 99th percentile in the last bin)"))
    ax.set_ylabel("share of records")
    ax.legend(fontsize=7, loc="upper right")
    return to_svg(fig)


def languages(mix: dict[str, Counter[str]]) -> str:
    """Each source's records by language, as shares of the source."""
    plt = _plt()
    total: Counter[str] = Counter()
    for c in mix.values():
        total.update(c)
    langs = [lang for lang, _ in total.most_common(LANGS_SHOWN)]
    names = sorted(mix, key=lambda s: -sum(mix[s].values()))[: MAX_SERIES * 2]
    fig, ax = plt.subplots(figsize=(6.4, 0.35 * len(names) + 0.9), layout="constrained")
    y = np.arange(len(names))[::-1]
    left = np.zeros(len(names))
    for color, lang in zip(itertools.cycle(COLORS), [*langs, "other"]):
        share = np.array(
            [
                (
                    sum(v for k, v in mix[s].items() if k not in langs)
                    if lang == "other"
                    else mix[s][lang]
                )
                / max(1, sum(mix[s].values()))
                for s in names
            ]
        )
        if share.any():
            ax.barh(y, share, left=left, color=color if lang != "other" else "#bbb", label=lang)
        left += share
    ax.set_yticks(y, names)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the source's records")
    ax.legend(ncol=min(5, len(langs) + 1), fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1))
    return to_svg(fig)


def coverage(pool: np.ndarray, selected: np.ndarray) -> str:
    """The selected records over the pool in a 2-D projection (pool points rasterised: small file)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 4.0), layout="constrained")
    ax.scatter(pool[:, 0], pool[:, 1], s=3, c="#c8c8c8", lw=0, rasterized=True, label="pool")
    ax.scatter(selected[:, 0], selected[:, 1], s=9, c=COLORS[2], lw=0, label="selected")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=8, loc="upper right", markerscale=2)
    return to_svg(fig)
