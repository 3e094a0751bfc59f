"""Per-source summary of a record set: the classic table of instruction-dataset papers.

Computed in one streaming pass; lengths are whitespace tokens and characters.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from instructkit.schema import first_role_text

QUANTILES = (0.1, 0.5, 0.9)


@dataclass
class _Acc:
    records: int = 0
    multi_turn: int = 0
    turns: list[int] = field(default_factory=list)
    instr_tokens: list[int] = field(default_factory=list)
    instr_chars: list[int] = field(default_factory=list)
    resp_tokens: list[int] = field(default_factory=list)
    resp_chars: list[int] = field(default_factory=list)
    no_response: int = 0
    inputs_seen: int = 0
    inputs_empty: int = 0
    roles: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    scores: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def _mean(xs: list[int]) -> float | None:
    return round(float(np.mean(xs)), 2) if xs else None


def _quantiles(xs: list[float]) -> dict[str, float]:
    arr = np.asarray(xs, dtype=float)
    out = {f"p{int(q * 100)}": round(float(np.quantile(arr, q)), 4) for q in QUANTILES}
    out["mean"] = round(float(arr.mean()), 4)
    out["n"] = int(arr.size)
    return out


def compute(tables: Iterable[pa.Table]) -> dict[str, Any]:
    """Stats per source and for everything together (key ``"all"``)."""
    accs: dict[str, _Acc] = defaultdict(_Acc)
    for table in tables:
        sources = table.column("source").to_pylist()
        messages = table.column("messages").to_pylist()
        metas = table.column("meta").to_pylist()
        scores = table.column("scores").to_pylist()
        instructions = first_role_text(table, "user")
        responses = first_role_text(table, "assistant", after_role="user")
        for i, src in enumerate(sources):
            for acc in (accs[src], accs["all"]):
                msgs = messages[i]
                acc.records += 1
                acc.turns.append(len(msgs))
                users = sum(m["role"] == "user" for m in msgs)
                acc.multi_turn += users > 1
                acc.roles.update(m["role"] for m in msgs)
                acc.instr_tokens.append(len(instructions[i].split()))
                acc.instr_chars.append(len(instructions[i]))
                if responses[i]:
                    acc.resp_tokens.append(len(responses[i].split()))
                    acc.resp_chars.append(len(responses[i]))
                else:
                    acc.no_response += 1
                meta = orjson.loads(metas[i]) if metas[i] else {}
                inp = meta.get("input", meta.get("context"))
                if isinstance(inp, str):
                    acc.inputs_seen += 1
                    acc.inputs_empty += not inp.strip()
                category = meta.get("category") or meta.get("Skill")
                if isinstance(category, str) and category:
                    acc.categories[category] += 1
                for k, v in scores[i] or ():
                    acc.scores[k].append(v)
    out: dict[str, Any] = {}
    for src, acc in sorted(accs.items(), key=lambda kv: (kv[0] == "all", kv[0])):
        out[src] = {
            "records": acc.records,
            "multi_turn_share": round(acc.multi_turn / acc.records, 4) if acc.records else None,
            "mean_turns": _mean(acc.turns),
            "instruction_tokens_mean": _mean(acc.instr_tokens),
            "instruction_chars_mean": _mean(acc.instr_chars),
            "response_tokens_mean": _mean(acc.resp_tokens),
            "response_chars_mean": _mean(acc.resp_chars),
            "no_response": acc.no_response,
            "empty_input_share": round(acc.inputs_empty / acc.inputs_seen, 4)
            if acc.inputs_seen
            else None,
            "roles": dict(acc.roles.most_common()),
            "top_categories": dict(acc.categories.most_common(5)),
            "scores": {k: _quantiles(v) for k, v in sorted(acc.scores.items())},
        }
    if len(out) == 2:  # one source: "all" repeats it
        out.pop("all")
    return out


def selection_summary(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """What ``STEM.selection.jsonl`` says about a ``select`` run: how many picks, how they scored,
    and how close each came to the most similar pick before it (the diversity the method kept)."""
    scores: list[float] = []
    similarity: list[float] = []
    picks = alone = 0
    for row in rows:
        picks += 1
        if isinstance(row.get("score"), int | float):
            scores.append(float(row["score"]))
        sim = row.get("similarity")
        if isinstance(sim, int | float):
            similarity.append(float(sim))
        else:
            alone += 1
    out: dict[str, Any] = {"picks": picks, "without_earlier_neighbour": alone}
    if scores:
        out["score"] = {
            "min": round(min(scores), 4),
            **_quantiles(scores),
            "max": round(max(scores), 4),
        }
    if similarity:
        out["nearest_similarity"] = {
            "min": round(min(similarity), 4),
            **_quantiles(similarity),
            "max": round(max(similarity), 4),
        }
    return out
