"""The ``evolve`` step: Evol-Instruct over the whole input, against any OpenAI-compatible server.

With no ``base_url`` it starts the offline default (llama.cpp's server on the
SmolLM2 GGUF) for the duration of the step.  The children it creates are
counted in :attr:`StepResult.generated`, so in + generated = out + rejected.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from instructkit.errors import InstructkitError
from instructkit.evolve.engine import EvolveConfig, Evolver
from instructkit.evolve.operations import Templates
from instructkit.evolve.report import complexity_gain, round_table
from instructkit.llm.client import LLMClient, safe_url
from instructkit.schema import empty_table, to_records, to_table
from instructkit.steps.base import Step, StepResult

#: llama.cpp's server answers one request at a time: more in flight only queue up and risk the timeout.
LOCAL_CONCURRENCY = 2


class EvolveStep(Step):
    name: ClassVar[str] = "evolve"
    reads: ClassVar[tuple[str, ...]] = ("messages",)
    writes: ClassVar[tuple[str, ...]] = ("messages", "lineage")
    #: Lineages are independent, but the report and the concurrency are better over the whole input.
    needs_all: ClassVar[bool] = True

    def __init__(
        self,
        *,
        base_url: str | None = None,
        model: str | None = None,
        config: EvolveConfig | None = None,
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 6,
        cache: Path | None = None,
        templates: Path | None = None,
        complexity: bool = True,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        """``client_options`` go to :class:`LLMClient` as they are (backoff, prices, ...)."""
        if base_url and not model:
            raise InstructkitError(
                "--model is required with --base-url (the name the server knows the model by)"
            )
        self.base_url = base_url
        self.model = model
        self.config = config or EvolveConfig()
        if self.config.rounds < 0:
            raise InstructkitError("--rounds must be 0 or more")
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.cache = cache
        self.templates_dir = templates
        self.complexity = complexity
        self.client_options = client_options or {}
        self._report: dict[str, Any] = {}

    def setup(self) -> None:
        self.templates = Templates.load(self.templates_dir)  # fail early on a bad --templates

    @contextmanager
    def _endpoint(self) -> Iterator[tuple[str, str]]:
        if self.base_url:
            assert self.model is not None
            yield self.base_url, self.model
            return
        from instructkit.llm.server import DEFAULT_ALIAS, LocalServer

        with LocalServer(alias=self.model or DEFAULT_ALIAS) as srv:
            yield srv.base_url, srv.model

    def process(self, table: pa.Table) -> StepResult:
        seeds = to_records(table)
        with self._endpoint() as (base_url, model):
            concurrency = (
                self.concurrency if self.base_url else min(self.concurrency, LOCAL_CONCURRENCY)
            )
            client = LLMClient(
                base_url, model, concurrency=concurrency, timeout=self.timeout,
                max_retries=self.max_retries, cache_path=self.cache, **self.client_options,
            )  # fmt: skip
            try:
                client.preflight()
                outcome = Evolver(client, self.templates, self.config).run(seeds)
            finally:
                client.close()
        if outcome.failures and not (client.usage.answered or client.usage.cached):
            raise InstructkitError(
                f"every LLM call failed ({len(outcome.failures)}; first: "
                f"{outcome.failures[0]['error']}); nothing was evolved"
            )
        gains, absent = (
            complexity_gain(seeds, outcome.kept)
            if self.complexity
            else ({}, "absent: not requested")
        )
        self._report = {
            "model": model,
            "server": "local llama.cpp (offline default)"
            if not self.base_url
            else safe_url(base_url),
            "config": asdict(self.config),
            "rounds": round_table(outcome.rounds, gains, absent),
            "llm": client.usage.as_dict(),
            "failed_calls": outcome.failures,
        }
        kept = to_table(outcome.kept) if outcome.kept else empty_table()
        return StepResult(kept, outcome.rejects, generated=outcome.generated)

    def summary(self) -> dict[str, Any]:
        return self._report
