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


def complexity_sums(
    seeds: list[Record], kept: list[Record]
) -> tuple[dict[int, dict[str, float]], str | None]:
    """Per round, sums of parent and child complexity over the surviving children (sums add up
    across batches; :func:`round_rows` turns them into means), or ({}, why they are absent)."""
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
        ok = ~(np.isnan(p) | np.isnan(c))
        out[r] = {
            "pairs": int(ok.sum()),
            "parent_sum": float(p[ok].sum()),
            "child_sum": float(c[ok].sum()),
            "more_complex": int((c[ok] > p[ok]).sum()),
        }
    return out, None


def round_stats(rounds: dict[int, RoundStats], sums: dict[int, dict[str, float]]) -> dict[str, Any]:
    """Per round, figures that add up across batches (keyed by the round number as text)."""
    out: dict[str, Any] = {}
    for r, st in rounds.items():
        out[str(r)] = {
            "evolved": st.evolved,
            "survived": st.survived,
            "eliminated": dict(sorted(st.eliminated.items())),
            "failed_calls": st.failed_calls,
            "equality_unclear": st.equality_unclear,
            "operations": dict(sorted(st.operations.items())),
            "complexity": sums.get(r, {}),
        }
    return out


def round_rows(rounds: dict[str, Any], absent: str | None = None) -> list[dict[str, Any]]:
    """One row per round for the summary file and the printed table, means from the sums."""
    rows = []
    for r, st in sorted(rounds.items(), key=lambda kv: int(kv[0])):
        row = {"round": int(r)} | {k: v for k, v in st.items() if k != "complexity"}
        sums = st.get("complexity") or {}
        n = sums.get("pairs", 0)
        if n:
            parent, child = sums["parent_sum"] / n, sums["child_sum"] / n
            row |= {
                "parent_complexity": round(parent, 4),
                "child_complexity": round(child, 4),
                "mean_complexity_gain": round(child - parent, 4),
                "children_more_complex": round(sums["more_complex"] / n, 4),
            }
        else:
            row["mean_complexity_gain"] = absent or "absent: no survivors this round"
        rows.append(row)
    return rows
