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

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from instructkit.accounting import Reject, sidecar
from instructkit.generate.engine import STEP, Outcome, SelfInstruct
from instructkit.generate.prompts import Templates
from instructkit.llm.client import LLMClient
from instructkit.schema import Record, conform, empty_table, to_records, to_table
from instructkit.steps.base import Decision, GlobalStep, StepResult
from instructkit.steps.config import StepConfig

#: llama.cpp's server answers one request at a time: more in flight only queue up and risk the timeout.
LOCAL_CONCURRENCY = 2


class GenerateConfig(StepConfig):
    n: int = Field(
        100, ge=1, description="Records to generate.", json_schema_extra={"flags": ["-n", "--n"]}
    )
    base_url: str | None = Field(
        None,
        description="OpenAI-compatible server, e.g. http://localhost:8000/v1. "
        "Default: start the offline SmolLM2 server.",
    )
    model: str | None = Field(
        None, description="Model name the server knows (required with base-url)."
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
    concurrency: int = Field(8, ge=1, description="Requests in flight at most.")
    keep_seeds: bool = Field(False, description="Write the seed tasks too.")
    respond: bool = Field(
        True, description="Classify each new instruction and generate an instance (input, output)."
    )
    similarity: float = Field(
        0.7, gt=0.0, le=1.0, description="ROUGE-L at or above which a candidate is too similar."
    )
    cache: Path | None = Field(
        None,
        description="SQLite cache of LLM calls (default: STEM.llm-cache.sqlite beside the output); "
        "a rerun repeats no completed call.",
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
    timeout: float = Field(
        120.0, ge=0.1, description="Seconds before one request is given up (then retried)."
    )
    max_retries: int = Field(
        6, ge=0, description="Retries per call on 429, 5xx, timeouts and malformed answers."
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.base_url and not self.model:
            raise ValueError(
                "model is required with base-url (the name the server knows the model by)"
            )
        if self.in_context_generated > self.in_context:
            raise ValueError("in-context-generated cannot exceed in-context")
        return self


@dataclass
class GenerateDecision(Decision):
    """The decision on the seeds plus what the run made, added after the last batch."""

    records: list[Record] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    generated: int = 0


class GenerateStep(GlobalStep):
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
        c = self.config
        with self._endpoint() as (base_url, model):
            concurrency = c.concurrency if c.base_url else min(c.concurrency, LOCAL_CONCURRENCY)
            client = LLMClient(
                base_url, model, concurrency=concurrency, timeout=c.timeout, max_retries=c.max_retries,
                cache_path=self.cache_path, **self.client_options,
            )  # fmt: skip
            try:
                client.preflight()
                outcome = SelfInstruct(client, self.templates, c).run(seeds)
            finally:
                client.close()
        server = base_url if c.base_url else "local llama.cpp (offline default)"
        return outcome, {"model": model, "server": server, "llm": client.usage.as_dict()}

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

    @contextmanager
    def _endpoint(self) -> Iterator[tuple[str, str]]:
        c = self.config
        if c.base_url:
            assert c.model is not None
            yield c.base_url, c.model
            return
        from instructkit.llm.server import DEFAULT_ALIAS, LocalServer

        with LocalServer(alias=c.model or DEFAULT_ALIAS) as srv:
            yield srv.base_url, srv.model

    @property
    def cache_path(self) -> Path | None:
        """The LLM call cache: as configured, else beside the output, so a rerun repeats no call."""
        if self.config.cache is not None:
            return self.config.cache
        return sidecar(self.output, "llm-cache", ".sqlite") if self.output else None


__all__ = ["STEP", "GenerateConfig", "GenerateStep"]
