"""The ``dedup`` step: exact, then near-duplicate (prefix-filter candidates, exact Jaccard), then semantic (embeddings).

Methods run in that order, each on the records the previous one kept, so the
cheap exact pass shrinks the work of the expensive ones.  In every method the
duplicate pairs become clusters and one record per cluster survives (the best
by ``--keep-best`` METRIC, else the first seen); every other record is a
``duplicate`` reject naming the kept record's id, the method and the
similarity to that kept record.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator

from instructkit.dedup.clusters import resolve, resolve_star
from instructkit.dedup.exact import exact_pairs
from instructkit.dedup.fields import record_texts
from instructkit.errors import InstructkitError
from instructkit.models.embeddings import DEFAULT_EMBEDDING_MODEL
from instructkit.schema import scores_frame
from instructkit.steps.base import Decision, GlobalStep
from instructkit.steps.config import StepConfig
from instructkit.text import normalize

METHODS = ("exact", "near", "semantic")
#: star (default): greedy, a record is dropped only for a kept record it is itself similar to;
#: components: union-find, one survivor per connected cluster (chains A~B~C drop C for A).
CLUSTERING = {"star": resolve_star, "components": resolve}


class DedupConfig(StepConfig):
    method: tuple[Literal["exact", "near", "semantic"], ...] = Field(
        ("exact", "near"),
        min_length=1,
        description="Any of exact, near, semantic (run in that order).",
    )
    threshold: float = Field(
        0.8, gt=0.0, le=1.0, description="Near-duplicate Jaccard threshold over word n-grams."
    )
    index: Literal["prefix", "lsh"] = Field(
        "prefix",
        description="Near-duplicate candidates: prefix (exact prefix filter: every pair at the "
        "threshold) or lsh (MinHash LSH with num_perm permutations: approximate, misses some).",
    )
    num_perm: int = Field(
        128, ge=2, description="MinHash permutations (signature length; index lsh only)."
    )
    ngram: int = Field(3, ge=1, description="Words per shingle for near-duplicates.")
    semantic_threshold: float = Field(
        0.95, ge=-1.0, le=1.0, description="Cosine threshold for semantic duplicates."
    )
    embedding_model: str = Field(
        DEFAULT_EMBEDDING_MODEL,
        description="'minilm' (offline package) or any sentence-transformers id or path.",
    )
    fields: Literal["all", "instruction"] = Field(
        "all", description="Compare 'all' turns (instruction + response) or the 'instruction' only."
    )
    keep_best: str | None = Field(
        None,
        description="Keep the record with the highest scores.METRIC per cluster (default: the first seen).",
    )
    cluster: Literal["star", "components"] = Field(
        "star",
        description="star (default): drop only records similar to a kept one; "
        "components: one record per connected cluster (union-find, chains).",
    )
    seed: int = Field(1, description="Seed of the MinHash permutations (index lsh only).")

    @field_validator("method")
    @classmethod
    def _in_order(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(m for m in METHODS if m in v)


class Dedup(GlobalStep):
    """Remove duplicates, keeping one record per cluster; every removal is a reject naming the kept id."""

    name: ClassVar[str] = "dedup"
    Config = DedupConfig
    config: DedupConfig
    reads: ClassVar[tuple[str, ...]] = ("messages", "scores")

    def setup(self) -> None:
        if "semantic" in self.config.method:
            from instructkit.models import embeddings

            embeddings.load(self.config.embedding_model)

    def observe(self, table: pa.Table) -> pa.Table:
        """What the decision needs per record: its id, compared text, normalised text and quality."""
        c = self.config
        texts = record_texts(table, c.fields)
        columns: dict[str, Any] = {"id": table.column("id"), "text": texts}
        if {"exact", "near"} & set(c.method):
            columns["norm"] = [normalize(t) for t in texts]
        if c.keep_best:
            frame = scores_frame(table)
            columns["quality"] = frame.get(c.keep_best, np.full(table.num_rows, np.nan))
        return pa.table(columns)

    def decide(self, features: pa.Table) -> Decision:
        texts = features.column("text").to_pylist()
        normalized = features.column("norm").to_pylist() if "norm" in features.column_names else []
        return decide_by(
            self.config,
            features.column("id").to_pylist(),
            self._quality(features),
            lambda method, alive: self._run(method, alive, texts, normalized),
        )

    def _run(
        self, method: str, alive: np.ndarray, texts: list[str], normalized: list[str]
    ) -> tuple[np.ndarray, Callable[[np.ndarray, np.ndarray], np.ndarray], dict[str, Any]]:
        """Duplicate pairs among the live records by one method, and its similarity for the reject details."""
        if method == "exact":
            return exact_pairs([normalized[i] for i in alive]), lambda a, b: np.ones(len(a)), {}
        if method == "near":
            from instructkit.dedup.near import near_pairs

            near = near_pairs(
                [normalized[i] for i in alive],
                self.config.threshold,
                self.config.num_perm,
                self.config.ngram,
                self.config.seed,
                index=self.config.index,
            )
            info = dict(near.stats, threshold=self.config.threshold, ngram=self.config.ngram)
            if self.config.index == "lsh":
                info["num_perm"] = self.config.num_perm
            return near.pairs, near.jaccard, info
        from instructkit.dedup.semantic import semantic_pairs

        sem = semantic_pairs(
            [texts[i] for i in alive], self.config.semantic_threshold, self.config.embedding_model
        )
        return sem.pairs, sem.cosine, dict(sem.stats, threshold=self.config.semantic_threshold)

    def _quality(self, features: pa.Table) -> np.ndarray | None:
        if not self.config.keep_best:
            return None
        return check_quality(self.config, features.column("quality").to_numpy(zero_copy_only=False))


#: ``pairs_of(method, alive)``: the duplicate pairs among the live records (indexes into ``alive``),
#: their similarity for any (dropped, kept) pairs, and the method's figures for the summary.
PairsOf = Callable[
    [str, np.ndarray],
    tuple[np.ndarray, Callable[[np.ndarray, np.ndarray], np.ndarray], dict[str, Any]],
]


def decide_by(
    c: DedupConfig, ids: list[str], quality: np.ndarray | None, pairs_of: PairsOf
) -> Decision:
    """The decision from each method's pairs: clusters, the keep-one rule, a reject detail per drop.

    Where the pairs come from is the caller's: :meth:`Dedup.decide` finds them on one machine,
    the Ray engine (:mod:`instructkit.engines.ray_dedup`) in partitions on the cluster; both
    decide here, so the rejects are the same sentences."""
    n = len(ids)
    alive = np.arange(n)
    reasons: list[str | None] = [None] * n
    details: list[str | None] = [None] * n
    stats: dict[str, Any] = {}
    for method in c.method:
        t0 = time.perf_counter()
        pairs, similarity, info = pairs_of(method, alive)
        # Equality is transitive, so exact clusters are components whatever --cluster says.
        how = resolve if method == "exact" else CLUSTERING[c.cluster]
        clusters = how(len(alive), pairs, None if quality is None else quality[alive])
        drop = clusters.dropped
        kept = clusters.keeper[drop]
        sims = similarity(drop, kept)
        for d, k, s in zip(drop, kept, sims):
            reasons[alive[d]] = "duplicate"
            details[alive[d]] = _detail(
                method, ids[alive[k]], int(alive[k]), float(s), int(clusters.size[d]), c
            )
        info |= {
            "dropped": len(drop),
            "clusters": clusters.clusters,
            "seconds": round(time.perf_counter() - t0, 3),
        }
        stats[method] = info
        alive = np.delete(alive, drop)
    keep = np.zeros(n, dtype=bool)
    keep[alive] = True
    return Decision(keep, reasons, details, stats)


def check_quality(c: DedupConfig, quality: np.ndarray) -> np.ndarray:
    """``--keep-best``'s metric per record; an error when no record has it (a typo, or score not run)."""
    if len(quality) and np.isnan(quality).all():
        raise InstructkitError(
            f"option 'keep-best': no record has scores.{c.keep_best}; add it first (instructkit score --metrics ...)"
        )
    return quality


def _detail(
    method: str, kept_id: str, kept_row: int, sim: float, size: int, step: DedupConfig
) -> str:
    """A sentence a person can act on: which record was kept, by what method, how similar."""
    what = "instruction" if step.fields == "instruction" else "instruction + response (all turns)"
    keep = f"best {step.keep_best}" if step.keep_best else "first seen"
    kept_id = f"{kept_id} (input record #{kept_row + 1})"  # ids may repeat: content-hash ids of equal records
    if method == "exact":
        how = f"exact duplicate of id {kept_id}: similarity 1.0 after normalisation (NFKC, case, punctuation, white space) of the {what}"
    elif method == "near":
        how = f"near duplicate of id {kept_id}: Jaccard {sim:.3f} over word {step.ngram}-grams of the {what} (threshold {step.threshold})"
        if sim < step.threshold:
            how += "; linked to it through other members of the cluster"
    else:
        how = f"semantic duplicate of id {kept_id}: cosine {sim:.3f} ({step.embedding_model}, threshold {step.semantic_threshold})"
        if sim < step.semantic_threshold:
            how += "; linked to it through other members of the cluster"
    return f"{how}; cluster of {size}, kept the {keep}"
