"""``report``: one self-contained HTML page that shows a whole curation run, and its dataset card.

:func:`write_report` is what the recipe runner's ``report:`` step calls;
:func:`report` is the command's entry, which also takes step outputs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from instructkit.accounting import atomic_open
from instructkit.report.card import render_card
from instructkit.report.figures import compute
from instructkit.report.load import load
from instructkit.report.render import render


def report(
    inputs: list[Path],
    html: Path,
    card: Path | None = None,
    *,
    name: str | None = None,
    sources: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Write the page (and the card); return what was written and how long it took."""
    started = time.perf_counter()
    run = load(inputs, name=name, inputs=sources)
    fig = compute(run)
    computed = time.perf_counter()
    page = render(fig, run.recipe)
    with atomic_open(html, "w") as fh:
        fh.write(page)
    out: dict[str, Any] = {
        "html": str(html),
        "html_bytes": html.stat().st_size,
        "records": fig.records,
        "steps": [s.label for s in run.steps],
    }
    if card is not None:
        data_file = os.path.relpath(run.final, card.parent) if run.final else None
        with atomic_open(card, "w") as fh:
            fh.write(render_card(run, fig, data_file))
        out["card"] = str(card)
    out["seconds"] = {
        "figures": round(computed - started, 3),
        "render": round(time.perf_counter() - computed, 3),
        "total": round(time.perf_counter() - started, 3),
    }
    return out


def write_report(
    run_dir: Path, html: Path, card: Path | None, name: str, inputs: list[dict[str, Any]]
) -> dict[str, Any]:
    """The recipe runner's ``report:`` step: the run directory's page and card.

    ``inputs`` are the recipe's inputs (``path``, ``source``, ``license``), used
    for the license column and the card's sources; ``name`` is the recipe's name.
    """
    return report([run_dir], html, card, name=name, sources=inputs)


__all__ = ["report", "write_report"]
