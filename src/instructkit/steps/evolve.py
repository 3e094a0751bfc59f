"""The ``evolve`` step: Evol-Instruct over the whole input, against any OpenAI-compatible server.

With no ``base_url`` it starts the offline default (llama.cpp's server on the
SmolLM2 GGUF) for the duration of the step.  The children it creates are
counted in :attr:`StepResult.generated`, so in + generated = out + rejected.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Self

import pyarrow as pa
from pydantic import Field, model_validator

from instructkit.accounting import sidecar
from instructkit.errors import InstructkitError
from instructkit.evolve.engine import Evolver
from instructkit.evolve.operations import Templates
from instructkit.evolve.rounds import complexity_sums, round_rows, round_stats
from instructkit.llm.client import LLMClient, safe_url
from instructkit.schema import empty_table, to_records, to_table
from instructkit.steps.base import Step, StepResult
from instructkit.steps.config import StepConfig

#: llama.cpp's server answers one request at a time: more in flight only queue up and risk the timeout.
LOCAL_CONCURRENCY = 2


class EvolveConfig(StepConfig):
    base_url: str | None = Field(
        None,
        description="OpenAI-compatible server, e.g. http://localhost:8000/v1. "
        "Default: start the offline SmolLM2 server.",
    )
    model: str | None = Field(
        None, description="Model name the server knows (required with base-url)."
    )
    rounds: int = Field(4, ge=0, description="Evolution rounds.")
    seed: int = Field(0, description="Seed for the choice of operation and the sampling.")
    concurrency: int = Field(8, ge=1, description="Requests in flight at most.")
    keep_seeds: bool = Field(True, description="Write the seed records too.")
    respond: bool = Field(
        False, description="Answer kept records that have no response (with rounds 0: answer only)."
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
        0.7, ge=0.0, description="Sampling temperature for evolving and answering."
    )
    max_tokens: int = Field(512, ge=1, description="Longest response, in tokens.")
    evolve_max_tokens: int = Field(256, ge=1, description="Longest evolved instruction, in tokens.")
    similarity: float = Field(
        0.9,
        ge=0.0,
        le=1.0,
        description="Token Jaccard at or above which a child counts as its parent unasked.",
    )
    timeout: float = Field(
        120.0, ge=0.1, description="Seconds before one request is given up (then retried)."
    )
    max_retries: int = Field(
        6, ge=0, description="Retries per call on 429, 5xx, timeouts and malformed answers."
    )
    complexity: bool = Field(
        True, description="Report the complexity gain per round (loads the spaCy parser)."
    )

    @model_validator(mode="after")
    def _model_with_url(self) -> Self:
        if self.base_url and not self.model:
            raise ValueError(
                "model is required with base-url (the name the server knows the model by)"
            )
        return self


class EvolveStep(Step):
    """Make instructions harder with an LLM, round after round, eliminating failed evolutions."""

    name: ClassVar[str] = "evolve"
    Config = EvolveConfig
    config: EvolveConfig
    reads: ClassVar[tuple[str, ...]] = ("messages",)
    writes: ClassVar[tuple[str, ...]] = ("messages", "lineage")

    def __init__(
        self,
        config: EvolveConfig | None = None,
        *,
        output: Path | None = None,
        client_options: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        """``client_options`` go to :class:`LLMClient` as they are (backoff, prices, ...)."""
        super().__init__(config, output=output, **options)
        self.client_options = client_options or {}

    def setup(self) -> None:
        self.templates = Templates.load(
            self.config.templates
        )  # fail early on a bad templates folder

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

    def process(self, table: pa.Table) -> StepResult:
        c = self.config
        seeds = to_records(table)
        with self._endpoint() as (base_url, model):
            concurrency = c.concurrency if c.base_url else min(c.concurrency, LOCAL_CONCURRENCY)
            client = LLMClient(
                base_url, model, concurrency=concurrency, timeout=c.timeout, max_retries=c.max_retries,
                cache_path=self.cache_path, **self.client_options,
            )  # fmt: skip
            try:
                client.preflight()
                outcome = Evolver(client, self.templates, c).run(seeds)
            finally:
                client.close()
        if outcome.failures and not (client.usage.answered or client.usage.cached):
            raise InstructkitError(
                f"every LLM call failed ({len(outcome.failures)}; first: "
                f"{outcome.failures[0]['error']}); nothing was evolved"
            )
        sums, absent = (
            complexity_sums(seeds, outcome.kept) if c.complexity else ({}, "absent: not requested")
        )
        stats = {
            "model": model,
            "server": safe_url(base_url) if c.base_url else "local llama.cpp (offline default)",
            "rounds": round_stats(outcome.rounds, sums),
            "llm": client.usage.as_dict(),
            "failed_calls": outcome.failures,
        }
        if absent:
            stats["complexity_absent"] = absent
        kept = to_table(outcome.kept) if outcome.kept else empty_table()
        return StepResult(kept, outcome.rejects, generated=outcome.generated, stats=stats)

    def describe(self, stats: dict[str, Any]) -> dict[str, Any]:
        return stats | {
            "rounds": round_rows(stats.get("rounds", {}), stats.get("complexity_absent"))
        }

    @property
    def cache_path(self) -> Path | None:
        """The LLM call cache: as configured, else beside the output, so a rerun repeats no call."""
        if self.config.cache is not None:
            return self.config.cache
        return sidecar(self.output, "llm-cache", ".sqlite") if self.output else None
