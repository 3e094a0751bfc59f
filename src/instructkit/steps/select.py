"""The ``select`` step: a small, diverse, high-quality subset of N records, every choice explained.

``observe`` turns each batch into features (id, source, the ``--by`` score,
token count, unit embedding from the shared encoder and cache); ``decide``
runs the method (:mod:`instructkit.select`) under the budgets; ``apply`` keeps
the picks in input order.  Beside the output, ``STEM.selection.jsonl`` has one
row per pick in the order picked: ``{id, rank, score, nearest_id, similarity}``
(the most similar record picked before it).  Every other record is a
``not_selected`` reject holding only its id and scores, with why.
"""

from __future__ import annotations

import sys
import time
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator, model_validator

from instructkit.accounting import Reject
from instructkit.errors import InstructkitError
from instructkit.models import embeddings
from instructkit.select.deita import deita
from instructkit.select.expression import parse, producer_hint
from instructkit.select.facility import facility
from instructkit.select.features import embedding_texts, metric_columns, token_counts
from instructkit.select.kcenter import kcenter
from instructkit.select.pool import (
    Budget,
    Picks,
    Pool,
    nearest_before,
    nearest_pick,
    parse_quotas,
)
from instructkit.select.random import random_sample
from instructkit.steps.base import Decision, GlobalStep, StepResult, merge_stats
from instructkit.steps.config import StepConfig

#: The default ranking: instruction complexity, discounted by toxicity (``score``'s default metrics).
DEFAULT_BY = "complexity * (1 - toxicity)"
#: Deita's threshold: a record is skipped when its cosine to a kept one exceeds it.  Kept for
#: encoders not tuned here (any sentence-transformers model).
DEITA_THRESHOLD = 0.9
#: MiniLM's threshold per ``--fields``: at 0.9 hardly any pair of its records binds, and the picks
#: beat random on fewer diversity measures in independent spaces (0 of 12 on the tuning pool
#: against 4 at 0.8 for all turns, 4 at 0.85 for the instruction; docs/select.md).
MINILM_THRESHOLD = {"all": 0.8, "instruction": 0.85}
#: The static encoder's cosines are compressed (two unrelated records often score above 0.7,
#: a random subset's mean nearest-neighbour cosine is ~0.8), so 0.9 hardly binds with it; 0.75
#: was the best threshold on the tuning pool (benchmarks/eval_select.py --pool tune, docs/select.md).
STATIC_THRESHOLD = 0.75
#: Scores whose standard deviation is below this (relative to their scale) are "collapsed".
COLLAPSED = 1e-6


class SelectConfig(StepConfig):
    n: int = Field(
        1000,
        ge=0,
        description="How many records to select.",
        json_schema_extra={"flags": ["-n", "--n"]},
    )
    by: str = Field(
        DEFAULT_BY,
        description="Score to rank by: an expression over scores.* (+ - * / **, log, log1p, "
        "exp, sqrt, abs, min, max), e.g. 'complexity * (1 - toxicity)'.",
    )
    method: Literal["deita", "kcenter", "facility", "random"] = Field(
        "deita",
        description="deita: best score first, skip records too similar to a kept one; "
        "kcenter: spread over the embedding space; facility: cover the pool; random: the baseline.",
    )
    threshold: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        description="deita: skip a record whose cosine to a kept one exceeds this (default, "
        "tuned per encoder: 0.8 with minilm, 0.85 with minilm and --fields instruction, 0.75 "
        "with static; 0.9, Deita's, with any other model).",
    )
    embedding_model: str = Field(
        embeddings.DEFAULT_EMBEDDING_MODEL,
        description="'minilm' (offline package), 'static' (model2vec distilled from it, ~100x "
        "faster), or any sentence-transformers id or path.",
    )
    fields: Literal["all", "instruction"] = Field(
        "all", description="Embed 'all' turns (as semantic dedup does) or the 'instruction' only."
    )
    per_source: str | None = Field(
        None,
        description="Per-source caps: SOURCE=COUNT or SOURCE=SHARE (of n), '*' for the rest, "
        "e.g. 'alpaca=300,lima=0.25,*=100'.",
    )
    max_tokens: int | None = Field(
        None, ge=1, description="Token budget of the selection (words and punctuation, all turns)."
    )
    missing: Literal["error", "reject"] = Field(
        "error",
        description="A record lacking a metric --by needs: 'error' (stop), or 'reject' it.",
    )
    seed: int = Field(1, description="Seed of random sampling and of facility's partitions.")

    @model_validator(mode="before")
    @classmethod
    def _threshold_for_the_encoder(cls, data: Any) -> Any:
        """No --threshold: the one tuned for the encoder (and, with MiniLM, the embedded field);
        Deita's 0.9 for an encoder not tuned here."""
        if isinstance(data, dict) and data.get("threshold") is None:
            model = data.get("embedding_model", embeddings.DEFAULT_EMBEDDING_MODEL)
            if model == embeddings.STATIC_MODEL:
                threshold = STATIC_THRESHOLD
            elif model == embeddings.DEFAULT_EMBEDDING_MODEL:
                fields = data.get("fields", "all")
                threshold = MINILM_THRESHOLD.get(fields, MINILM_THRESHOLD["all"])
            else:
                threshold = DEITA_THRESHOLD
            data = {**data, "threshold": threshold}
        return data

    @field_validator("by")
    @classmethod
    def _parses(cls, v: str) -> str:
        try:
            parse(v)
        except InstructkitError as e:
            raise ValueError(str(e).removeprefix("option 'by': ")) from None
        return v


class Select(GlobalStep):
    """Select N records: high score, diverse, within budgets; explain every pick and every omission."""

    name: ClassVar[str] = "select"
    Config = SelectConfig
    config: SelectConfig
    reads: ClassVar[tuple[str, ...]] = ("messages", "scores", "source")
    sidecars: ClassVar[tuple[str, ...]] = ("selection",)

    def setup(self) -> None:
        self._expr = parse(self.config.by)
        self._observed: dict[str, Any] = {}

    def observed(self) -> dict[str, Any]:
        out, self._observed = self._observed, {}
        return out

    def observe(self, table: pa.Table) -> pa.Table:
        """Per record: id, source, score, the first metric it lacks, tokens, unit embedding."""
        if not hasattr(self, "_expr"):
            self.setup()
        c = self.config
        frame = metric_columns(table, self._expr.metrics)
        rows = table.num_rows
        lacks = np.full(rows, None, dtype=object)
        for metric in reversed(self._expr.metrics):
            lacks[np.isnan(frame[metric])] = metric
        texts = embedding_texts(table, c.fields)
        foreign = embeddings.unsupported(texts, c.embedding_model)
        usable = np.flatnonzero(~foreign)
        vectors = None
        if len(usable):
            encoded = embeddings.encode(texts.take(pa.array(usable, pa.int64())), c.embedding_model)
            self._observed = merge_stats(self._observed, {"embedding": dict(embeddings.last_stats)})
            vectors = np.zeros((rows, encoded.shape[1]), np.float32)
            vectors[usable] = encoded
        dims = 0 if vectors is None else vectors.shape[1]
        flat = pa.array(
            (vectors if vectors is not None else np.zeros((rows, 0), np.float32)).reshape(-1),
            pa.float32(),
        )
        return pa.table(
            {
                "id": table.column("id"),
                "source": table.column("source"),
                "score": self._expr.evaluate(frame, rows),
                "lacks": pa.array(lacks.tolist(), pa.string()),
                # Counting tokens is the costliest feature: only when a token budget needs them
                # (otherwise ``apply`` counts the picks' tokens for the summary).
                "tokens": token_counts(table)
                if c.max_tokens is not None
                else np.zeros(rows, np.int64),
                "foreign": foreign,
                "vector": pa.FixedSizeListArray.from_arrays(flat, dims)
                if dims
                else pa.nulls(rows, pa.list_(pa.float32())),
            }
        )

    def decide(self, features: pa.Table) -> Decision:
        c = self.config
        t0 = time.perf_counter()
        n = features.num_rows
        ids = [str(i) for i in features.column("id").to_pylist()]
        score = features.column("score").to_numpy(zero_copy_only=False).astype(np.float64)
        lacks = features.column("lacks").to_pylist()
        vectors = _vectors(features)
        keep = np.zeros(n, bool)
        reasons: list[str | None] = ["not_selected"] * n
        details: list[str | None] = [None] * n
        warnings: list[str] = []
        eligible = np.ones(n, bool)
        if c.method != "random":
            eligible = self._check_missing(ids, lacks, details)
            warnings += _collapsed(score[eligible], c.by)
        idx = np.flatnonzero(eligible)
        sources = np.array([s or "" for s in features.column("source").to_pylist()], dtype=object)
        pool = Pool(
            [ids[i] for i in idx],
            sources[idx],
            score[idx],
            features.column("tokens").to_numpy(zero_copy_only=False)[idx],
            vectors[idx],
        )
        if c.n > len(pool):
            warnings.append(
                f"asked for {c.n} records but only {len(pool)} can be selected: selecting all of "
                "them (within the budgets)"
            )
        budget = Budget(pool, c.n, parse_quotas(c.per_source, c.n, pool.sources), c.max_tokens)
        picks = self._run(pool, budget)
        order = [int(idx[p]) for p in picks.order]
        keep[order] = True
        for p, why in picks.details.items():
            details[int(idx[p])] = why
        self._explain_rest(pool, picks, idx, details)
        rows = _selection_rows(ids, score, vectors, order)
        for w in warnings:
            print(f"warning: select: {w}", file=sys.stderr)
        stats = {
            "method": c.method,
            "by": c.by,
            "pool": len(pool),
            "selected": len(order),
            "per_source_selected": dict(sorted(budget.per_source.items())),
            "score_pool": _quantiles(pool.score),
            "score_selected": _quantiles(score[order]),
            "similarity_to_nearest_pick_mean": _mean([r["similarity"] for r in rows]),
            "not_compared_non_ascii": int(features.column("foreign").to_numpy(False).sum()),
            "decide_seconds": round(time.perf_counter() - t0, 3),
            "warnings": warnings,
        }
        if c.max_tokens is not None:  # else apply counts them
            stats["tokens_selected"] = int(pool.tokens[picks.order].sum()) if order else 0
        return Decision(keep, reasons, details, stats, {"selection": rows})

    def _check_missing(
        self, ids: list[str], lacks: list[str | None], details: list[str | None]
    ) -> np.ndarray:
        """Records lacking a metric --by needs: an error naming it and its command, or rejects."""
        absent = np.array([m is not None for m in lacks], bool)
        if not absent.any():
            return ~absent
        first = int(np.argmax(absent))
        metric = str(lacks[first])
        count = int(sum(1 for m in lacks if m == metric))
        hint = producer_hint(metric)
        if self.config.missing == "error":
            raise InstructkitError(
                f"option 'by' ({self.config.by}) needs scores.{metric}, which {count} of "
                f"{len(ids)} records lack (first: id {ids[first]}); add it with `{hint}`, or pass "
                "--missing reject to leave those records out (records without a user turn get no "
                "instruction metrics)"
            )
        for i in np.flatnonzero(absent):
            details[i] = (
                f"no scores.{lacks[i]}, which --by needs ({self.config.by}); add it with `{producer_hint(str(lacks[i]))}`"
            )
        return ~absent

    def _run(self, pool: Pool, budget: Budget) -> Picks:
        c = self.config
        if c.method == "deita":
            assert c.threshold is not None  # filled in by _threshold_for_the_encoder
            return deita(pool, budget, c.threshold)
        if c.method == "kcenter":
            return kcenter(pool, budget)
        if c.method == "facility":
            return facility(pool, budget, c.seed)
        return random_sample(pool, budget, c.seed)

    def _explain_rest(
        self, pool: Pool, picks: Picks, idx: np.ndarray, details: list[str | None]
    ) -> None:
        """A detail for every eligible record the method passed over without saying why."""
        c = self.config
        rest = [p for p in range(len(pool)) if details[idx[p]] is None]
        picked = set(picks.order)
        rest = [p for p in rest if p not in picked]
        if not rest:
            return
        if not picks.order:
            for p in rest:
                details[idx[p]] = f"nothing was selected (n={c.n} and the budgets left no room)"
            return
        if c.method == "random":
            for p in rest:
                details[idx[p]] = f"not drawn in the seeded random sample (--seed {c.seed})"
            return
        if c.method == "deita":
            cut = pool.score[picks.order[-1]]
            for p in rest:
                details[idx[p]] = (
                    f"below the score cut: scored {pool.score[p]:.4g}; the {len(picks.order)} "
                    f"selected scored at least {cut:.4g}"
                    if pool.score[p] < cut
                    else f"tied with the cut at {cut:.4g}: equal scores go to the earlier record "
                    "in the input"
                )
            return
        best, sims = nearest_pick(pool.vectors, picks.order)
        why = "spread" if c.method == "kcenter" else "coverage"
        for p in rest:
            j = picks.order[int(best[p])]
            details[idx[p]] = (
                f"adds less {why} than the picks: similarity {sims[p]:.2f} to {pool.ids[j]}, "
                "which was selected"
            )

    def apply(self, table: pa.Table, decision: Decision, offset: int) -> StepResult:
        """Keep the picks; a reject per other record holding only its id and scores."""
        stop = offset + table.num_rows
        keep = decision.keep[offset:stop]
        drop = np.flatnonzero(~keep)
        taken = pa.array(drop, pa.int64())
        ids = table.column("id").take(taken).to_pylist()
        scores = table.column("scores").take(taken).to_pylist()
        reasons = decision.reasons[offset:stop]
        details = decision.details[offset:stop]
        rejects = [
            Reject(
                self.name,
                reasons[i] or "not_selected",
                details[i] or "",
                record={"id": rid, "scores": dict(sc or ())},
            )
            for i, rid, sc in zip(drop.tolist(), ids, scores)
        ]
        kept = table.filter(pa.array(keep))
        stats: dict[str, Any] = {}
        if self.config.max_tokens is None:  # the token budget's decide counted them already
            stats["tokens_selected"] = int(token_counts(kept).sum())
        return StepResult(kept, rejects, stats=stats)


def _vectors(features: pa.Table) -> np.ndarray:
    col = features.column("vector")
    n = features.num_rows
    if not pa.types.is_fixed_size_list(col.type) or n == 0:
        return np.zeros((n, 1), np.float32)
    flat = np.concatenate([c.flatten().to_numpy(zero_copy_only=False) for c in col.chunks])
    return flat.reshape(n, col.type.list_size).astype(np.float32, copy=False)


def _selection_rows(
    ids: list[str], score: np.ndarray, vectors: np.ndarray, order: list[int]
) -> list[dict[str, Any]]:
    best, sim = nearest_before(vectors, order)
    rows = []
    for rank, i in enumerate(order):
        j = int(best[rank])
        rows.append(
            {
                "id": ids[i],
                "rank": rank + 1,
                "score": None if np.isnan(score[i]) else round(float(score[i]), 6),
                "nearest_id": ids[order[j]] if j >= 0 else None,
                "similarity": round(float(sim[rank]), 4) if j >= 0 else None,
            }
        )
    return rows


def _collapsed(score: np.ndarray, by: str) -> list[str]:
    """A loud warning when the scores carry no ranking (deita#36: a failed scorer gave every sample 3.0)."""
    finite = score[np.isfinite(score)]
    if len(finite) < 2:
        return []
    spread = float(finite.std())
    if spread > COLLAPSED * max(1.0, float(np.abs(finite).mean())):
        return []
    return [
        f"the scores by '{by}' have collapsed: {len(finite)} records, mean {finite.mean():.6g}, "
        f"standard deviation {spread:.3g}; the ranking is arbitrary (input order): check the scorer"
    ]


def _quantiles(values: np.ndarray) -> dict[str, float] | None:
    v = values[np.isfinite(values)]
    if not len(v):
        return None
    q = np.quantile(v, [0.1, 0.5, 0.9])
    return {
        "mean": round(float(v.mean()), 6),
        "p10": round(float(q[0]), 6),
        "p50": round(float(q[1]), 6),
        "p90": round(float(q[2]), 6),
    }


def _mean(values: list[float | None]) -> float | None:
    v = [x for x in values if x is not None]
    return round(float(np.mean(v)), 4) if v else None
