"""Per-round figures of an evolve run: what each round evolved, eliminated (and why) and gained.

"Gained" is the complexity metric of the scoring step (``instructkit.score.complexity``)
of each surviving child minus that of its parent.  When that metric cannot be
loaded the field says why it is absent; it is never filled with a made-up number.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from instructkit.errors import InstructkitError
from instructkit.evolve.engine import RoundStats, instruction_of
from instructkit.schema import Record


def complexity_pairs(
    seeds: list[Record], kept: list[Record]
) -> dict[int, tuple[list[str], list[str]]]:
    """Per round: (parent instructions, child instructions) of the surviving children."""
    text = {r["id"]: instruction_of(r) for r in seeds} | {r["id"]: instruction_of(r) for r in kept}
    pairs: dict[int, tuple[list[str], list[str]]] = {}
    for rec in kept:
        lin = rec.get("lineage")
        if not lin:
            continue
        parents, children = pairs.setdefault(lin["round"], ([], []))
        parents.append(text[lin["parent"]])
        children.append(instruction_of(rec))
    return pairs


def complexity_gain(
    seeds: list[Record], kept: list[Record]
) -> tuple[dict[int, dict[str, float]], str | None]:
    """Mean parent / child complexity and mean gain per round, or ({}, why it is absent)."""
    try:
        from instructkit.score.complexity import ComplexityScorer
    except ImportError as e:
        return {}, f"absent: the complexity metric is not available ({e})"
    pairs = complexity_pairs(seeds, kept)
    if not pairs:
        return {}, None
    try:
        scorer = ComplexityScorer()
        flat = [t for parents, children in pairs.values() for t in (*parents, *children)]
        scores = scorer.score(flat)["complexity"]
    except (ImportError, InstructkitError, OSError) as e:
        return {}, f"absent: the complexity metric could not be loaded ({e})"
    out: dict[int, dict[str, float]] = {}
    i = 0
    for r, (parents, _children) in pairs.items():
        n = len(parents)
        p, c = scores[i : i + n], scores[i + n : i + 2 * n]
        i += 2 * n
        out[r] = {
            "parent_complexity": round(float(np.nanmean(p)), 4),
            "child_complexity": round(float(np.nanmean(c)), 4),
            "mean_complexity_gain": round(float(np.nanmean(c - p)), 4),
            "children_more_complex": round(float(np.mean(c > p)), 4),
        }
    return out, None


def round_table(
    rounds: dict[int, RoundStats], gains: dict[int, dict[str, float]], absent: str | None
) -> list[dict[str, Any]]:
    """One row per round for the summary file and the printed table."""
    rows = []
    for r, st in rounds.items():
        row: dict[str, Any] = {
            "round": r,
            "evolved": st.evolved,
            "survived": st.survived,
            "eliminated": dict(sorted(st.eliminated.items())),
            "failed_calls": st.failed_calls,
            "equality_unclear": st.equality_unclear,
            "operations": dict(sorted(st.operations.items())),
        }
        if r in gains:
            row |= gains[r]
        else:
            row["mean_complexity_gain"] = absent or "absent: no survivors this round"
        rows.append(row)
    return rows
