"""The ``generate`` step: Self-Instruct from the input's seed tasks, against any OpenAI-compatible server.

It needs every seed before it starts (the pool begins as all of them), so it
is a :class:`GlobalStep`: ``observe`` collects the seeds, ``decide`` runs the
whole generation once, and ``apply`` passes each batch's seeds (kept with
``keep_seeds``, else rejected as ``seed_not_kept``) and adds the generated
records and their rejects after the last batch.  Every candidate the model
wrote is counted in :attr:`StepResult.generated`, so
seeds + generated = out + rejected.  With no ``base_url`` it starts the
offline default (llama.cpp's server on the SmolLM2 GGUF) for the duration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from instructkit.accounting import Reject
from instructkit.generate.engine import STEP, Outcome, SelfInstruct
from instructkit.generate.prompts import Templates
from instructkit.schema import Record, conform, empty_table, to_records, to_table
from instructkit.steps.base import Decision, GlobalStep, StepResult
from instructkit.steps.llm import LLMConfig, LLMSteps


class GenerateConfig(LLMConfig):
    n: int = Field(
        100, ge=1, description="Records to generate.", json_schema_extra={"flags": ["-n", "--n"]}
    )
    seed: int = Field(0, description="Seed for the choice of in-context tasks and the sampling.")
    in_context: int = Field(8, ge=1, description="Tasks shown to the model per request.")
    in_context_generated: int = Field(
        2, ge=0, description="Of those, at most this many generated earlier in the run."
    )
    requests_per_round: int = Field(
        8, ge=1, description="Requests sent together; their candidates are then filtered in order."
    )
    max_requests: int | None = Field(
        None, ge=1, description="Stop after this many bootstrap requests (default: 20 x n)."
    )
    keep_seeds: bool = Field(False, description="Write the seed tasks too.")
    respond: bool = Field(
        True, description="Classify each new instruction and generate an instance (input, output)."
    )
    similarity: float = Field(
        0.7, gt=0.0, le=1.0, description="ROUGE-L at or above which a candidate is too similar."
    )
    templates: Path | None = Field(
        None, description="Folder of .txt templates overriding the packaged ones by name."
    )
    temperature: float = Field(
        0.7, ge=0.0, description="Sampling temperature for new instructions."
    )
    top_p: float = Field(0.5, gt=0.0, le=1.0, description="Nucleus sampling for new instructions.")
    instruction_max_tokens: int = Field(
        512, ge=1, description="Longest answer to a bootstrap request, in tokens."
    )
    max_tokens: int = Field(300, ge=1, description="Longest instance answer, in tokens.")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.in_context_generated > self.in_context:
            raise ValueError("in-context-generated cannot exceed in-context")
        return self


@dataclass
class GenerateDecision(Decision):
    """The decision on the seeds plus what the run made, added after the last batch."""

    records: list[Record] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    generated: int = 0


class GenerateStep(LLMSteps, GlobalStep):
    """Self-Instruct: new instructions (and instances) bootstrapped from seed tasks with an LLM."""

    name: ClassVar[str] = "generate"
    Config = GenerateConfig
    config: GenerateConfig
    reads: ClassVar[tuple[str, ...]] = ("messages", "meta")
    writes: ClassVar[tuple[str, ...]] = ("messages", "meta", "lineage")

    def __init__(
        self,
        config: GenerateConfig | None = None,
        *,
        output: Path | None = None,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        """``client_options`` go to :class:`LLMClient` as they are (backoff, prices, ...)."""
        super().__init__(config, output=output)
        self.client_options = client_options or {}

    def setup(self) -> None:
        self.templates = Templates.load(self.config.templates)  # fail early on a bad folder

    def observe(self, table: pa.Table) -> pa.Table:
        return conform(table)  # the seeds themselves: a few hundred small records

    def decide(self, features: pa.Table) -> Decision:
        seeds = to_records(features)
        outcome, endpoint = self._generate(seeds)
        keep = [self.config.keep_seeds] * len(seeds)
        detail = "keep-seeds is off: the seed task is not written; what it seeded is"
        return GenerateDecision(
            keep=np.array(keep, dtype=bool),
            reasons=[None if k else "seed_not_kept" for k in keep],
            details=[None if k else detail for k in keep],
            stats=outcome.stats | endpoint,
            records=outcome.kept,
            rejects=outcome.rejects,
            generated=outcome.generated,
        )

    def _generate(self, seeds: list[Record]) -> tuple[Outcome, dict[str, Any]]:
        with self.client() as session:
            outcome = SelfInstruct(session.client, self.templates, self.config).run(seeds)
        return outcome, {
            "model": session.model,
            "server": session.server,
            "llm": session.client.usage.as_dict(),
        }

    def apply(self, table: pa.Table, decision: Decision, offset: int) -> StepResult:
        result = super().apply(table, decision, offset)
        if offset + table.num_rows < len(decision.keep) or not isinstance(
            decision, GenerateDecision
        ):
            return result
        made = to_table(decision.records) if decision.records else empty_table()
        result.kept = pa.concat_tables([conform(result.kept), made])
        result.rejects.extend(decision.rejects)
        result.generated = decision.generated
        return result


__all__ = ["STEP", "GenerateConfig", "GenerateStep"]
