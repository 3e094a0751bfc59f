"""The ``decontaminate`` step: drop (or flag) records that overlap evaluation benchmarks.

Three tiers, cheapest first.  Every turn is scanned for shared word n-grams
(tier 1, exact leaks); every user turn is embedded and compared with the
benchmark items that share most of their rare words with it (tier 2,
rephrasings: ``search="lexical"``, the default; ``search="full"`` compares with
every item, which means embedding the whole benchmark once); pairs in a
suspicious band below the embedding threshold go to an LLM judge when one is
configured (tier 3).  The
statistics land in ``scores`` (``decontam.ngram_overlap``, ``decontam.cosine``)
before anything is decided, so ``--mode flag`` keeps every record and only
writes the evidence to ``STEM.hits.jsonl``.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from instructkit.decontam import benchmarks as bm
from instructkit.decontam import cache
from instructkit.decontam.embed import EmbeddingIndex
from instructkit.decontam.judge import rephrase_judge
from instructkit.decontam.lexical import LexicalIndex
from instructkit.decontam.ngram import NgramIndex, TextGrams, match
from instructkit.errors import InstructkitError
from instructkit.models import embeddings
from instructkit.schema import turn_texts, with_scores
from instructkit.steps.base import Step, StepResult, split
from instructkit.steps.config import StepConfig

#: Calibrated on the planted test set (benchmarks/eval_decontam.py, docs/decontamination.md):
#: all-MiniLM-L6-v2 cosine between a benchmark item and a record that contains it.
DEFAULT_THRESHOLD = 0.85
DEFAULT_BAND = 0.75
#: search="lexical": per user turn, the benchmark texts sharing the most rare-word mass that the
#: encoder confirms, and the least containment worth confirming (tuned, docs/decontamination.md).
CANDIDATES = 5
LEXICAL_FLOOR = 0.3
#: A rephrasing keeps the item's rare words and numbers: below the cosine threshold, a pair is still
#: contaminated when the cosine is at least COMBINED_COSINE and the containment at least COMBINED_LEXICAL.
COMBINED_COSINE = 0.75
COMBINED_LEXICAL = 0.7
EVIDENCE_CHARS = 300
#: Hits kept per turn and benchmark and method (the best ones); the decision needs only the best.
MAX_HITS = 5


class DecontaminateConfig(StepConfig):
    benchmark: tuple[str, ...] = Field(
        min_length=1,
        description=f"A built-in name ({', '.join(bm.ADAPTERS)}) or a file: [NAME=]PATH[:FIELD,FIELD...].",
        json_schema_extra={"comma": False, "flags": ["-b", "--benchmark"]},
    )
    benchmark_dir: Path | None = Field(
        None,
        description="Read built-in benchmarks from this folder (offline), e.g. shared/data/benchmarks.",
    )
    ngram: int = Field(
        13, ge=1, description="Words per n-gram; benchmark texts shorter than this match whole."
    )
    min_overlap: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Share of a benchmark item's n-grams a record must contain (0: any one).",
    )
    embedding_model: str = Field(
        embeddings.DEFAULT_EMBEDDING_MODEL,
        description="'minilm' (offline package), any sentence-transformers id or path, or 'none' (n-grams only).",
    )
    embedding_threshold: float = Field(
        DEFAULT_THRESHOLD, description="Cosine at or above which a user turn is contaminated."
    )
    suspicious_band: float = Field(
        DEFAULT_BAND,
        description="Lower edge of the suspicious band [LOW, threshold): written as hits, judged.",
    )
    mode: Literal["filter", "flag"] = Field(
        "filter", description="filter: drop contaminated records; flag: keep all, only write hits."
    )
    judge_url: str | None = Field(
        None, description="OpenAI-compatible base URL of an LLM that judges the band."
    )
    judge_model: str | None = Field(None, description="Model name for judge-url.")
    cache_dir: Path | None = Field(
        None,
        description="Where built benchmark indexes are kept (default ~/.cache/instructkit/decontam).",
    )
    no_cache: bool = Field(
        False, description="Build the benchmark indexes afresh and do not store them."
    )
    search: Literal["lexical", "full"] = Field(
        "lexical",
        description="lexical: embed only the benchmark texts that share rare words with a turn; "
        "full: embed the whole benchmark and compare every item.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.suspicious_band > self.embedding_threshold:
            raise ValueError(
                f"suspicious-band ({self.suspicious_band}) must be at most embedding-threshold "
                f"({self.embedding_threshold})"
            )
        if bool(self.judge_url) != bool(self.judge_model):
            raise ValueError("judge-url and judge-model go together")
        return self

    @property
    def model(self) -> str | None:
        return None if self.embedding_model.lower() == "none" else self.embedding_model

    @property
    def index_dir(self) -> Path | None:
        return None if self.no_cache else (self.cache_dir or cache.default_dir())


@dataclass
class _Loaded:
    bench: bm.Benchmark
    ngram: NgramIndex
    lexical: LexicalIndex | None
    vectors: cache.VectorStore | None
    embed: EmbeddingIndex | None  # search="full" only


class Decontaminate(Step):
    """Remove records that overlap benchmarks (n-grams, embeddings, optional LLM judge); write STEM.hits.jsonl.

    ``embedding-model: none`` runs the n-gram tier alone (see the module docstring)."""

    name: ClassVar[str] = "decontaminate"
    Config = DecontaminateConfig
    config: DecontaminateConfig
    reads: ClassVar[tuple[str, ...]] = ("messages",)
    writes: ClassVar[tuple[str, ...]] = ("scores.decontam.ngram_overlap", "scores.decontam.cosine")
    sidecars: ClassVar[tuple[str, ...]] = ("hits",)

    def __init__(
        self,
        config: DecontaminateConfig | None = None,
        *,
        output: Path | None = None,
        **options: Any,
    ) -> None:
        super().__init__(config, output=output, **options)
        c = self.config
        self.n, self.min_overlap, self.embedding_model = c.ngram, c.min_overlap, c.model
        self.threshold, self.band, self.cache_dir = (
            c.embedding_threshold,
            c.suspicious_band,
            c.index_dir,
        )
        self._loaded: list[_Loaded] = []
        self._judge = None
        if c.judge_url and c.judge_model:
            # Cached answers make a rerun free; the cache key includes the model and the prompt.
            judge_cache = self.cache_dir / "judge.sqlite" if self.cache_dir else None
            self._judge = rephrase_judge(c.judge_url, c.judge_model, cache_path=judge_cache)
        self._setup_stats: dict[str, Any] = {}

    def setup(self) -> None:
        if self._judge is not None:
            self._judge.setup()  # a server that is not there stops the run now, not mid-way
        if self._loaded:  # already set up (a recipe may call setup again)
            return
        cache_hits: list[str] = []
        for spec in dict.fromkeys(self.config.benchmark):
            bench = bm.load(spec, self.config.benchmark_dir)
            if any(b.bench.name == bench.name for b in self._loaded):
                raise InstructkitError(
                    f"two benchmarks are named '{bench.name}': name one with NAME=PATH"
                )
            ng, hit = cache.cached(
                self.cache_dir,
                cache.key(bench, "ngram", self.n),
                partial(NgramIndex.build, bench.fields, self.n),
                NgramIndex.arrays,
                NgramIndex.from_arrays,
            )
            cache_hits += [f"{bench.name}:ngram"] if hit else []
            lex = store = emb = None
            if self.embedding_model:
                lex, hit = cache.cached(
                    self.cache_dir,
                    cache.key(bench, "lexical"),
                    partial(LexicalIndex.build, bench.embed),
                    LexicalIndex.arrays,
                    LexicalIndex.from_arrays,
                )
                cache_hits += [f"{bench.name}:lexical"] if hit else []
                store = self._vector_store(bench, lex)
                if store.loaded:
                    cache_hits.append(f"{bench.name}:vectors:{store.loaded}")
                if self.config.search == "full":  # every benchmark text, encoded (checkpointed) now
                    vecs = store.get(
                        np.arange(len(lex.items)),
                        partial(_pick, bench.flat_embed()),
                        partial(embeddings.encode, name=self.embedding_model),
                        progress=progress(f"embedding {bench.name}"),
                    )
                    emb = EmbeddingIndex(vecs, lex.items)
            self._loaded.append(_Loaded(bench, ng, lex, store, emb))
        self._setup_stats = {
            "benchmarks": {
                b.bench.name: {
                    "items": len(b.bench),
                    "origin": b.bench.origin,
                    "ngram_index_bytes": b.ngram.nbytes,
                }
                for b in self._loaded
            },
            "cache_hits": cache_hits,
        }

    def _vector_store(self, bench: bm.Benchmark, lex: LexicalIndex) -> cache.VectorStore:
        assert self.embedding_model
        key = cache.key(bench, "vectors", self.embedding_model)
        return cache.VectorStore(self.cache_dir, key, len(lex.items))

    def shared(self) -> tuple[list[_Loaded], dict[str, Any]]:
        """The benchmarks and their indexes, built once and only read by every worker.  The vector
        store is left out: each worker fills its own as it encodes (from the same disk cache)."""
        self.setup()
        return [replace(b, vectors=None) for b in self._loaded], self._setup_stats

    def adopt(self, shared: tuple[list[_Loaded], dict[str, Any]]) -> None:
        loaded, self._setup_stats = shared
        self._loaded = [
            replace(b, vectors=self._vector_store(b.bench, b.lexical) if b.lexical else None)
            for b in loaded
        ]

    def info(self) -> dict[str, Any]:
        if self._judge is None:
            return self._setup_stats
        return self._setup_stats | {"judge": self._judge.summary()}

    def process(self, table: pa.Table) -> StepResult:
        # Per batch: the engine adds the batches' figures up.
        self._counts: Counter[str] = Counter()
        self._seconds: Counter[str] = Counter()
        self._skipped_non_ascii = 0
        texts, rows, roles = turn_texts(table)
        rows = np.asarray(rows, np.int64)
        turn = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")
        ids = table.column("id").to_pylist()
        hits: list[dict[str, Any]] = []
        overlap = np.zeros(table.num_rows)
        t0 = time.perf_counter()
        self._ngram_hits(texts, rows, turn, ids, hits, overlap)
        self._seconds["ngram"] += time.perf_counter() - t0
        cosine = np.full(table.num_rows, np.nan)
        if self.embedding_model:
            t0 = time.perf_counter()
            self._embedding_hits(texts, rows, turn, roles, ids, hits, cosine)
            self._seconds["embedding"] += time.perf_counter() - t0
        table = with_scores(table, {"decontam.ngram_overlap": overlap, "decontam.cosine": cosine})
        return self._decide(table, ids, hits)

    def _ngram_hits(
        self,
        texts: list[str],
        rows: np.ndarray,
        turn: np.ndarray,
        ids: list[str],
        hits: list[dict[str, Any]],
        overlap: np.ndarray,
    ) -> None:
        sizes = {self.n} | {int(m) for b in self._loaded for m in b.ngram.short}
        grams = TextGrams.of(texts, sizes)
        for b in self._loaded:
            m = match(b.ngram, grams)
            np.maximum.at(overlap, rows[m.texts], m.ratios)
            # A template sentence shared by many items (BBH task preambles) would give a hit per item:
            # keep the MAX_HITS best items per turn and benchmark (ties: the item sharing most n-grams).
            order = np.lexsort((-m.ratios * b.ngram.counts[m.items], -m.ratios, m.texts))
            rank = np.arange(len(order)) - np.searchsorted(
                m.texts[order], m.texts[order], side="left"
            )
            for k in order[rank < MAX_HITS]:
                t, i, ratio, start, size = (
                    m.texts[k],
                    m.items[k],
                    m.ratios[k],
                    m.starts[k],
                    m.sizes[k],
                )
                r = int(rows[t])
                if ratio + 1e-12 >= self.min_overlap:
                    hits.append(
                        self._hit(
                            ids[r],
                            r,
                            int(turn[t]),
                            b.bench,
                            int(i),
                            "ngram",
                            float(ratio),
                            grams.span(int(t), int(start), int(size)),
                            "contaminated",
                        )
                    )

    def _embedding_hits(
        self,
        texts: list[str],
        rows: np.ndarray,
        turn: np.ndarray,
        roles: list[str],
        ids: list[str],
        hits: list[dict[str, Any]],
        cosine: np.ndarray,
    ) -> None:
        model = self.embedding_model or embeddings.DEFAULT_EMBEDDING_MODEL
        user = [k for k, role in enumerate(roles) if role == "user" and texts[k].strip()]
        # Turns the model cannot compare would match anything in their script: n-gram tier only.
        unsupported = embeddings.unsupported([texts[k] for k in user], model)
        self._skipped_non_ascii += int(unsupported.sum())
        user = [k for k, skip in zip(user, unsupported.tolist(), strict=True) if not skip]
        if not user:
            return
        unique = list(dict.fromkeys(texts[k] for k in user))
        t0 = time.perf_counter()
        vecs = embeddings.encode(unique, model)
        self._seconds["embedding_encode"] += time.perf_counter() - t0
        where = {t: j for j, t in enumerate(unique)}
        owners = {}  # unique text row -> turns that have it
        for k in user:
            owners.setdefault(where[texts[k]], []).append(k)
        floor = self.band if self.band is not None else self.threshold
        judged: list[tuple[dict[str, Any], str]] = []
        for b in self._loaded:
            q, items, scores, lexical = self._pairs(b, unique, vecs)
            for j, s in zip(q, scores, strict=True):
                for k in owners[int(j)]:
                    cosine[rows[k]] = np.fmax(cosine[rows[k]], s)
            for j, i, s, x in zip(q, items, scores, lexical, strict=True):
                combined = s >= COMBINED_COSINE and x >= COMBINED_LEXICAL  # NaN: never
                if s >= self.threshold or combined:
                    verdict = "contaminated"
                elif s >= floor:
                    verdict = "suspicious"
                else:
                    continue
                evidence = "\n".join(b.bench.embed[int(i)])
                for k in owners[int(j)]:
                    r = int(rows[k])
                    hit = self._hit(
                        ids[r],
                        r,
                        int(turn[k]),
                        b.bench,
                        int(i),
                        "embedding",
                        float(s),
                        evidence,
                        verdict,
                    )
                    if not np.isnan(x):
                        hit["containment"] = round(float(x), 4)
                    hits.append(hit)
                    if verdict == "suspicious" and self._judge is not None:
                        judged.append((hit, texts[k]))
        if judged:
            self._ask_judge(judged, hits)

    def _pairs(
        self, b: _Loaded, unique: list[str], vecs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(turn, item, cosine, rare-word containment) per compared pair, each turn's best item first.

        search="full": each turn's top items by cosine over the whole benchmark (containment NaN);
        search="lexical": the encoder confirms each turn's top CANDIDATES benchmark texts by
        shared rare words, encoding only those texts (stored, so a text is encoded once ever).
        """
        if b.embed is not None:
            q, items, scores = b.embed.search(vecs, -1.0)
            return q, items, scores, np.full(len(q), np.nan)
        assert b.lexical is not None and b.vectors is not None
        t0 = time.perf_counter()
        q, row, lexical = b.lexical.search(unique, CANDIDATES, LEXICAL_FLOOR)
        self._seconds["embedding_candidates"] += time.perf_counter() - t0
        self._counts["embedding_candidate_pairs"] += len(q)
        t0 = time.perf_counter()
        before = int(b.vectors.done.sum())
        bench_vecs = b.vectors.get(
            row,
            partial(_pick, b.bench.flat_embed()),
            partial(embeddings.encode, name=self.embedding_model),
            progress=progress(f"embedding {b.bench.name} candidates"),
        )
        self._counts["embedding_benchmark_texts_encoded"] += int(b.vectors.done.sum()) - before
        self._seconds["embedding_benchmark_encode"] += time.perf_counter() - t0
        cos = np.einsum("ij,ij->i", vecs[q], bench_vecs) if len(q) else np.zeros(0, np.float32)
        items = b.lexical.items[row].astype(np.int64)
        # best text per (turn, item), then each turn's best item first
        order = np.lexsort((-cos, items, q))
        q, items, cos, lexical = q[order], items[order], cos[order], lexical[order]
        first = np.ones(len(q), bool)
        first[1:] = (q[1:] != q[:-1]) | (items[1:] != items[:-1])
        q, items, cos, lexical = q[first], items[first], cos[first], lexical[first]
        order = np.lexsort((-cos, q))
        return q[order], items[order], cos[order], lexical[order]

    def _ask_judge(
        self, judged: list[tuple[dict[str, Any], str]], hits: list[dict[str, Any]]
    ) -> None:
        assert self._judge is not None
        t0 = time.perf_counter()
        answers = self._judge.judge([(text, hit["evidence"]) for hit, text in judged])
        self._seconds["judge"] += time.perf_counter() - t0
        for (hit, _), yes in zip(judged, answers, strict=True):
            if yes is None:
                continue
            hits.append(
                hit
                | {
                    "method": "llm",
                    "verdict": "contaminated" if yes else "cleared",
                    "judge_model": self.config.judge_model,
                }
            )

    @staticmethod
    def _hit(
        rid: str,
        row: int,
        turn: int,
        bench: bm.Benchmark,
        item: int,
        method: str,
        score: float,
        evidence: str,
        verdict: str,
    ) -> dict[str, Any]:
        return {
            "id": rid,
            "benchmark": bench.name,
            "benchmark_id": bench.ids[item],
            "method": method,
            "score": round(score, 4),
            "evidence": evidence[:EVIDENCE_CHARS],
            "turn": turn,
            "verdict": verdict,
            "_row": row,
        }

    def _decide(self, table: pa.Table, ids: list[str], hits: list[dict[str, Any]]) -> StepResult:
        best: dict[int, dict[str, Any]] = {}
        rank = {"ngram": 2, "llm": 1, "embedding": 0}
        for h in hits:
            self._counts[f"{h['benchmark']}:{h['method']}:{h['verdict']}"] += 1
            if h["verdict"] != "contaminated":
                continue
            cur = best.get(h["_row"])
            if cur is None or (rank[h["method"]], h["score"]) > (rank[cur["method"]], cur["score"]):
                best[h["_row"]] = h
        self._counts["records_contaminated"] += len(best)
        keep = np.ones(table.num_rows, bool)
        if self.config.mode == "filter":
            keep[list(best)] = False
        details = [None] * table.num_rows
        for r, h in best.items():
            details[r] = (
                f"turn {h['turn']} matches {h['benchmark']} item '{h['benchmark_id']}' by {h['method']} "
                f"(score {h['score']:.3f}): {h['evidence'][:120]!r}"
            )
        result = split(table, keep, self.name, "contaminated", details)
        result.sidecars["hits"] = [{k: v for k, v in h.items() if k != "_row"} for h in hits]
        result.stats = self._stats()
        return result

    def _stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "hits": dict(sorted(self._counts.items())),
            "tier_seconds": {k: round(v, 3) for k, v in self._seconds.items()},
        }
        if self.embedding_model:
            out["embedding_skipped_non_ascii"] = self._skipped_non_ascii
            out["search"] = self.config.search
        return out


def _pick(texts: list[str], rows: np.ndarray) -> list[str]:
    return [texts[int(r)] for r in rows]


def progress(label: str) -> Callable[[int, int], None] | None:
    """A one-line counter on stderr when it is a terminal; nothing in logs and pipes."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\rdecontaminate: {label} {done:,}/{total:,}", end=end, file=sys.stderr, flush=True)

    return show
