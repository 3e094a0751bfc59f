"""The ``dedup`` step: exact, then near-duplicate (MinHash LSH), then semantic (embeddings).

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
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from instructkit.dedup.clusters import resolve, resolve_star
from instructkit.dedup.exact import exact_pairs
from instructkit.dedup.fields import FIELDS, record_texts
from instructkit.errors import InstructkitError
from instructkit.models.embeddings import DEFAULT_EMBEDDING_MODEL
from instructkit.schema import scores_frame
from instructkit.steps.base import Step, StepResult, split
from instructkit.text import normalize

METHODS = ("exact", "near", "semantic")
#: star (default): greedy, a record is dropped only for a kept record it is itself similar to;
#: components: union-find, one survivor per connected cluster (chains A~B~C drop C for A).
CLUSTERING = {"star": resolve_star, "components": resolve}


class Dedup(Step):
    name: ClassVar[str] = "dedup"
    reads: ClassVar[tuple[str, ...]] = ("messages", "scores")
    needs_all: ClassVar[bool] = True

    def __init__(
        self,
        methods: str | tuple[str, ...] | list[str] = ("exact", "near"),
        *,
        fields: str = "all",
        threshold: float = 0.8,
        num_perm: int = 128,
        ngram: int = 3,
        semantic_threshold: float = 0.95,
        embedding_model: str = DEFAULT_EMBEDDING_MODEL,
        keep_best: str | None = None,
        cluster: str = "star",
        seed: int = 1,
    ) -> None:
        if isinstance(methods, str):  # "exact,near" as the command line and recipes write it
            methods = [m.strip() for m in methods.split(",") if m.strip()]
        bad = [m for m in methods if m not in METHODS]
        if bad or not methods:
            raise InstructkitError(
                f"--method takes a comma list of {', '.join(METHODS)}; got '{','.join(methods)}'"
            )
        if fields not in FIELDS:
            raise InstructkitError(f"--fields must be one of {', '.join(FIELDS)}, not '{fields}'")
        if not 0.0 < threshold <= 1.0 or not -1.0 <= semantic_threshold <= 1.0:
            raise InstructkitError(
                "--threshold must be in (0, 1] and --semantic-threshold in [-1, 1]"
            )
        if cluster not in CLUSTERING:
            raise InstructkitError(
                f"--cluster must be one of {', '.join(CLUSTERING)}, not '{cluster}'"
            )
        if num_perm < 2 or ngram < 1:
            raise InstructkitError("--num-perm must be >= 2 and --ngram >= 1")
        self.methods = [m for m in METHODS if m in methods]
        self.fields, self.threshold, self.num_perm, self.ngram = fields, threshold, num_perm, ngram
        self.semantic_threshold, self.embedding_model = semantic_threshold, embedding_model
        self.keep_best, self.cluster, self.seed = keep_best, cluster, seed
        self._summary: dict[str, Any] = {
            "fields": fields,
            "cluster": cluster,
            "keep": f"best {keep_best}" if keep_best else "first seen",
        }

    def setup(self) -> None:
        if "semantic" in self.methods:
            from instructkit.models import embeddings

            embeddings.load(self.embedding_model)

    def process(self, table: pa.Table) -> StepResult:
        quality = self._quality(table)
        texts = record_texts(table, self.fields)
        alive = np.arange(table.num_rows)
        reasons: list[str | None] = [None] * table.num_rows
        details: list[str | None] = [None] * table.num_rows
        ids = table.column("id").to_pylist()
        normalized = [normalize(t) for t in texts] if {"exact", "near"} & set(self.methods) else []
        for method in self.methods:
            t0 = time.perf_counter()
            pairs, similarity, info = self._run(method, alive, texts, normalized)
            # Equality is transitive, so exact clusters are components whatever --cluster says.
            how = resolve if method == "exact" else CLUSTERING[self.cluster]
            clusters = how(len(alive), pairs, None if quality is None else quality[alive])
            drop = clusters.dropped
            kept = clusters.keeper[drop]
            sims = similarity(drop, kept)
            for d, k, s in zip(drop, kept, sims):
                reasons[alive[d]] = "duplicate"
                details[alive[d]] = _detail(
                    method, ids[alive[k]], int(alive[k]), float(s), int(clusters.size[d]), self
                )
            info |= {
                "dropped": len(drop),
                "clusters": clusters.clusters,
                "seconds": round(time.perf_counter() - t0, 3),
            }
            self._summary[method] = info
            alive = np.delete(alive, drop)
        keep = np.zeros(table.num_rows, dtype=bool)
        keep[alive] = True
        return split(table, keep, self.name, reasons, details)

    def _run(
        self, method: str, alive: np.ndarray, texts: list[str], normalized: list[str]
    ) -> tuple[np.ndarray, Callable[[np.ndarray, np.ndarray], np.ndarray], dict[str, Any]]:
        """Duplicate pairs among the live records by one method, and its similarity for the reject details."""
        if method == "exact":
            return exact_pairs([normalized[i] for i in alive]), lambda a, b: np.ones(len(a)), {}
        if method == "near":
            from instructkit.dedup.near import near_pairs

            near = near_pairs(
                [normalized[i] for i in alive], self.threshold, self.num_perm, self.ngram, self.seed
            )
            info = dict(
                near.stats, threshold=self.threshold, num_perm=self.num_perm, ngram=self.ngram
            )
            return near.pairs, near.jaccard, info
        from instructkit.dedup.semantic import semantic_pairs

        sem = semantic_pairs(
            [texts[i] for i in alive], self.semantic_threshold, self.embedding_model
        )
        return sem.pairs, sem.cosine, dict(sem.stats, threshold=self.semantic_threshold)

    def _quality(self, table: pa.Table) -> np.ndarray | None:
        if not self.keep_best:
            return None
        frame = scores_frame(table)
        if self.keep_best not in frame:
            known = ", ".join(sorted(frame)) or "none"
            raise InstructkitError(
                f"--keep-best {self.keep_best}: no record has this score (scores present: {known})"
            )
        return frame[self.keep_best]

    def summary(self) -> dict[str, Any]:
        return self._summary


def _detail(method: str, kept_id: str, kept_row: int, sim: float, size: int, step: Dedup) -> str:
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
