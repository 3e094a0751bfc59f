"""The ``score`` step: add the selected quality metrics to ``scores`` (and evidence to ``meta``).

Scoring drops nothing: every record comes out with the metrics that could be
computed for it; a metric that could not be (no response, empty instruction,
no checkable claim) is absent rather than 0.  Each model loads once, in
:meth:`ScoreStep.setup`.  The instruction is the first user turn (Alpaca input
appended), the response the first assistant turn after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import orjson
import pyarrow as pa

from instructkit.errors import InstructkitError
from instructkit.models.lm import DEFAULT_LM
from instructkit.models.spacy_model import DEFAULT_SPACY_MODEL
from instructkit.models.toxicity import DEFAULT_TOXICITY_MODEL
from instructkit.schema import instructions, responses, with_scores
from instructkit.steps.base import Step, StepResult

METRICS = ("complexity", "perplexity", "factual", "safety", "format")
DEFAULT_METRICS = ("complexity", "safety", "format")


@dataclass
class ScoreConfig:
    metrics: tuple[str, ...] = DEFAULT_METRICS
    spacy_model: str = DEFAULT_SPACY_MODEL
    lm: str = DEFAULT_LM
    lm_url: str | None = None
    max_response_tokens: int = 256
    ifd: bool = True
    reference: Path | None = None
    nli_model: str | None = None
    judge_url: str | None = None
    judge_model: str | None = None
    judge_cache: Path | None = None
    evidence_k: int = 3
    toxicity_model: str = DEFAULT_TOXICITY_MODEL

    def __post_init__(self) -> None:
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown or not self.metrics:
            raise InstructkitError(
                f"unknown metric(s) {', '.join(unknown) or '(none given)'}: choose from {', '.join(METRICS)}"
            )
        if "factual" in self.metrics:
            if self.reference is None:
                raise InstructkitError(
                    "the factual metric needs --reference PATH (JSONL or Parquet passages)"
                )
            if bool(self.nli_model) == bool(self.judge_url):
                raise InstructkitError(
                    "the factual metric needs exactly one judge: --nli-model ID, or --judge-url URL with --judge-model M"
                )
            if self.judge_url and not self.judge_model:
                raise InstructkitError(
                    "--judge-url needs --judge-model (the model name the server serves)"
                )


@dataclass
class ScoreStep(Step):
    name: ClassVar[str] = "score"
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
    config: ScoreConfig = field(default_factory=ScoreConfig)
    _scored: dict[str, int] = field(default_factory=dict)
    _no_response: int = 0

    def setup(self) -> None:
        c = self.config
        self._complexity = self._perplexity = self._factual = None
        if "complexity" in c.metrics:
            from instructkit.score.complexity import ComplexityScorer

            self._complexity = ComplexityScorer(model=c.spacy_model)
            self._complexity.setup()
        if "perplexity" in c.metrics:
            from instructkit.score.perplexity import PerplexityScorer, make_backend

            kwargs = {} if c.lm_url else {"max_response_tokens": c.max_response_tokens}
            backend = make_backend(c.lm, c.lm_url, **kwargs)
            backend.setup()
            self._perplexity = PerplexityScorer(backend, ifd=c.ifd)
        if "factual" in c.metrics:
            from instructkit.score.factual import FactualScorer, LLMJudge, NLIJudge, ReferenceIndex

            judge: Any = (
                NLIJudge(c.nli_model)
                if c.nli_model
                else LLMJudge(c.judge_url or "", c.judge_model or "", c.judge_cache)
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
        self._no_response += sum(not r.strip() for r in resp)
        new: dict[str, np.ndarray] = {}
        meta_updates: dict[str, list[Any]] = {}
        if self._complexity is not None:
            before = self._complexity.skipped_script
            feats = self._complexity.score(instr)
            if self._complexity.skipped_script > before:
                from instructkit.cli.console import warn_once

                warn_once(
                    "complexity_script",
                    "complexity is English-only: instructions in Chinese, Japanese or Thai "
                    "are left without complexity scores (counted in the summary)",
                )
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
        for name, values in new.items():
            self._scored[name] = self._scored.get(name, 0) + int(
                np.count_nonzero(~np.isnan(values))
            )
        table = with_scores(table, new)
        if meta_updates:
            table = _update_meta(table, meta_updates)
        return StepResult(table)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "metrics": list(self.config.metrics),
            "rows_with_score": dict(sorted(self._scored.items())),
        }
        skipped: dict[str, Any] = {}
        if self._no_response:
            skipped["no_response"] = {
                "records": self._no_response,
                "why": "instruction-only records: the response metrics are absent for them",
            }
        script = getattr(getattr(self, "_complexity", None), "skipped_script", 0)
        if script:
            skipped["complexity_script"] = {
                "records": script,
                "why": "complexity is English-only; instructions in Chinese, Japanese or Thai "
                "have no complexity scores",
            }
        if skipped:
            out["skipped"] = skipped
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
