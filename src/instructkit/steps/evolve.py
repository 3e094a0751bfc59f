"""The ``evolve`` step: Evol-Instruct over the whole input, against any OpenAI-compatible server.

With no ``base_url`` it starts the offline default (llama.cpp's server on the
SmolLM2 GGUF) for the duration of the step.  The children it creates are
counted in :attr:`StepResult.generated`, so in + generated = out + rejected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import Field

from instructkit.errors import InstructkitError
from instructkit.evolve.engine import Evolver
from instructkit.evolve.operations import Templates
from instructkit.evolve.rounds import complexity_sums, round_rows, round_stats
from instructkit.schema import empty_table, to_records, to_table
from instructkit.steps.base import Step, StepResult
from instructkit.steps.llm import LLMConfig, LLMSteps


class EvolveConfig(LLMConfig):
    rounds: int = Field(4, ge=0, description="Evolution rounds.")
    seed: int = Field(0, description="Seed for the choice of operation and the sampling.")
    keep_seeds: bool = Field(True, description="Write the seed records too.")
    respond: bool = Field(
        False, description="Answer kept records that have no response (with rounds 0: answer only)."
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
    complexity: bool = Field(
        True, description="Report the complexity gain per round (loads the spaCy parser)."
    )


class EvolveStep(LLMSteps, Step):
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
        """``client_options`` go to the LLM client as they are (backoff, prices, ...)."""
        super().__init__(config, output=output, **options)
        self.client_options = client_options or {}

    def setup(self) -> None:
        self.templates = Templates.load(
            self.config.templates
        )  # fail early on a bad templates folder

    def process(self, table: pa.Table) -> StepResult:
        c = self.config
        seeds = to_records(table)
        with self.client() as session:
            outcome = Evolver(session.client, self.templates, c).run(seeds)
        usage = session.client.usage
        if outcome.failures and not (usage.answered or usage.cached):
            raise InstructkitError(
                f"every LLM call failed ({len(outcome.failures)}; first: "
                f"{outcome.failures[0]['error']}); nothing was evolved"
            )
        sums, absent = (
            complexity_sums(seeds, outcome.kept) if c.complexity else ({}, "absent: not requested")
        )
        stats = {
            "model": session.model,
            "server": session.server,
            "rounds": round_stats(outcome.rounds, sums),
            "llm": usage.as_dict(),
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
