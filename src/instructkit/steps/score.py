"""The ``score`` step: add the selected quality metrics to ``scores`` (and evidence to ``meta``).

Scoring drops nothing: every record comes out with the metrics that could be
computed for it; a metric that could not be (no response, empty instruction,
no checkable claim) is absent rather than 0.  Each model loads once, in
:meth:`ScoreStep.setup`.  The instruction is the first user turn (Alpaca input
appended), the response the first assistant turn after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import orjson
import pyarrow as pa
from pydantic import Field, model_validator

from instructkit.models.lm import DEFAULT_LM
from instructkit.models.spacy_model import DEFAULT_SPACY_MODEL
from instructkit.models.toxicity import DEFAULT_TOXICITY_MODEL
from instructkit.schema import instructions, responses, with_scores
from instructkit.steps.base import Step, StepResult
from instructkit.steps.config import StepConfig

NO_RESPONSE = "instruction-only records: the response metrics are absent for them"
ENGLISH_ONLY = (
    "complexity is English-only: instructions in Chinese, Japanese or Thai get no complexity scores"
)
METRICS = ("complexity", "perplexity", "factual", "safety", "format")
DEFAULT_METRICS = ("complexity", "safety", "format")
Metric = Literal["complexity", "perplexity", "factual", "safety", "format"]


class ScoreConfig(StepConfig):
    metrics: tuple[Metric, ...] = Field(
        DEFAULT_METRICS,
        min_length=1,
        description="Any of complexity, perplexity, factual, safety, format.",
    )
    spacy_model: str = Field(
        DEFAULT_SPACY_MODEL, description="spaCy model name or folder for complexity."
    )
    lm: str = Field(
        DEFAULT_LM,
        description="Perplexity model: smollm2 (offline GGUF), a .gguf path, a Hugging Face id, "
        "or the model name at lm-url.",
    )
    lm_url: str | None = Field(
        None,
        description="OpenAI-compatible /v1 endpoint with echo logprobs (check its numbers: docs/scoring.md).",
    )
    max_response_tokens: int = Field(
        256, ge=1, description="Score at most this many response tokens."
    )
    ifd: bool = Field(
        True, description="Also score the response alone, for IFD (twice the LM time)."
    )
    reference: Path | None = Field(
        None,
        description="Reference passages (JSONL/Parquet with id and text) for factual consistency.",
    )
    nli_model: str | None = Field(
        None,
        description="NLI cross-encoder id, e.g. cross-encoder/nli-deberta-v3-xsmall (hub or local folder).",
    )
    judge_url: str | None = Field(
        None, description="OpenAI-compatible /v1 URL of the LLM judge for factual."
    )
    judge_model: str | None = Field(None, description="Model name of the LLM judge.")
    judge_cache: Path | None = Field(
        None, description="SQLite cache of judge answers (a rerun repeats no call)."
    )
    evidence_k: int = Field(3, ge=1, description="Passages retrieved per claim.")
    toxicity_model: str = Field(
        DEFAULT_TOXICITY_MODEL,
        description="profanity-check (offline), detoxify, or a Hugging Face model id.",
    )

    @model_validator(mode="after")
    def _factual_needs(self) -> Self:
        if "factual" in self.metrics:
            if self.reference is None:
                raise ValueError("the factual metric needs reference (JSONL or Parquet passages)")
            if bool(self.nli_model) == bool(self.judge_url):
                raise ValueError(
                    "the factual metric needs exactly one judge: nli-model, or judge-url with judge-model"
                )
            if self.judge_url and not self.judge_model:
                raise ValueError("judge-url needs judge-model (the model name the server serves)")
        return self


class ScoreStep(Step):
    """Add complexity, perplexity/IFD, factual-consistency, safety and format metrics to scores."""

    name: ClassVar[str] = "score"
    Config = ScoreConfig
    config: ScoreConfig
    batch_size: ClassVar[int] = 1000
    reads: ClassVar[tuple[str, ...]] = ("messages",)
    writes: ClassVar[tuple[str, ...]] = (
        "scores.complexity*",
        "scores.perplexity*",
        "scores.ifd",
        "scores.factual.*",
        "scores.toxicity*",
        "scores.format.*",
        "meta.factual",
        "meta.language",
    )

    def setup(self) -> None:
        c = self.config
        self._complexity = self._perplexity = self._factual = None
        if "complexity" in c.metrics:
            from instructkit.score.complexity import ComplexityScorer

            self._complexity = ComplexityScorer(model=c.spacy_model)
            self._complexity.setup()
        if "perplexity" in c.metrics:
            from instructkit.models.logprobs import make_backend
            from instructkit.score.perplexity import PerplexityScorer

            kwargs = {} if c.lm_url else {"max_response_tokens": c.max_response_tokens}
            backend = make_backend(c.lm, c.lm_url, **kwargs)
            backend.setup()
            self._perplexity = PerplexityScorer(backend, ifd=c.ifd)
        if "factual" in c.metrics:
            from instructkit.score.factual import FactualScorer, NLIJudge, ReferenceIndex, llm_judge

            judge: Any = (
                NLIJudge(c.nli_model)
                if c.nli_model
                else llm_judge(c.judge_url or "", c.judge_model or "", c.judge_cache)
            )
            self._factual = FactualScorer(
                ReferenceIndex(Path(c.reference or "")), judge, k=c.evidence_k
            )
            self._factual.setup()
        if "safety" in c.metrics:
            from instructkit.models.toxicity import load_toxicity

            load_toxicity(c.toxicity_model)

    def process(self, table: pa.Table) -> StepResult:
        c = self.config
        if not hasattr(self, "_complexity"):
            self.setup()
        instr, resp = instructions(table), responses(table)
        new: dict[str, np.ndarray] = {}
        meta_updates: dict[str, list[Any]] = {}
        skipped: dict[str, dict[str, Any]] = {}
        if n := sum(not r.strip() for r in resp):
            skipped["no_response"] = {"records": n, "why": NO_RESPONSE}
        if self._complexity is not None:
            before = self._complexity.skipped_script
            feats = self._complexity.score(instr)
            if n := self._complexity.skipped_script - before:
                skipped["complexity_script"] = {"records": n, "why": ENGLISH_ONLY}
                from instructkit.cli.console import warn_once

                warn_once("complexity_script", f"{ENGLISH_ONLY} (counted in the summary)")
            new |= {
                ("complexity" if k == "complexity" else f"complexity.{k}"): v
                for k, v in feats.items()
            }
        if self._perplexity is not None:
            new |= self._perplexity.score(instr, resp)
        if self._factual is not None:
            scores, evidence = self._factual.score(resp)
            new |= scores
            meta_updates["factual"] = evidence
        if "safety" in c.metrics:
            from instructkit.score.safety import score_safety

            new |= score_safety(table, c.toxicity_model)
        if "format" in c.metrics:
            from instructkit.score.formatting import score_format

            scores, langs = score_format(resp)
            new |= scores
            meta_updates["language"] = langs
        scored = {name: int(np.count_nonzero(~np.isnan(v))) for name, v in sorted(new.items())}
        table = with_scores(table, new)
        if meta_updates:
            table = _update_meta(table, meta_updates)
        stats: dict[str, Any] = {"rows_with_score": scored}
        if skipped:  # what was left unscored, and why: summed over batches by the engine
            stats["skipped"] = skipped
        return StepResult(table, stats=stats)

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if getattr(self, "_factual", None) is not None:
            from instructkit.score.factual import describe

            out["factual"] = describe(self._factual)
        return out


def _update_meta(table: pa.Table, updates: dict[str, list[Any]]) -> pa.Table:
    """Set ``meta[key]`` per row (a ``None`` value leaves the row's meta as it was)."""
    metas = table.column("meta").to_pylist()
    for i, raw in enumerate(metas):
        values = {k: v[i] for k, v in updates.items() if v[i] is not None}
        if values:
            metas[i] = orjson.dumps((orjson.loads(raw) if raw else {}) | values).decode()
    idx = table.schema.get_field_index("meta")
    return table.set_column(idx, "meta", pa.array(metas, pa.string()))
