"""``instructkit evolve``: Evol-Instruct with any OpenAI-compatible server, or the offline local model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from instructkit.cli.common import (
    Common,
    Inputs,
    Output,
    common_options,
    err,
    run_steps,
)  # fmt: skip
from instructkit.evolve.engine import EvolveConfig
from instructkit.steps.evolve import EvolveStep

BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="OpenAI-compatible server, e.g. http://localhost:8000/v1. Default: start the offline SmolLM2 server.",
    ),
]
Model = Annotated[
    str | None,
    typer.Option("--model", help="Model name the server knows (required with --base-url)."),
]
Rounds = Annotated[int, typer.Option("--rounds", min=0, help="Evolution rounds.")]
Seed = Annotated[
    int, typer.Option("--seed", help="Seed for the choice of operation and the sampling.")
]
Concurrency = Annotated[
    int, typer.Option("--concurrency", min=1, help="Requests in flight at most.")
]
KeepSeeds = Annotated[
    bool, typer.Option("--keep-seeds/--no-keep-seeds", help="Write the seed records too.")
]
Respond = Annotated[
    bool,
    typer.Option(
        "--respond",
        help="Answer kept records that have no response (with --rounds 0: answer only).",
    ),
]
Cache = Annotated[
    Path | None,
    typer.Option(
        "--cache",
        help="SQLite cache of LLM calls (default: STEM.llm-cache.sqlite beside OUTPUT); a rerun repeats no completed call.",
    ),
]
TemplatesDir = Annotated[
    Path | None,
    typer.Option(
        "--templates", help="Folder of .txt templates overriding the packaged ones by name."
    ),
]
Temperature = Annotated[
    float,
    typer.Option("--temperature", min=0.0, help="Sampling temperature for evolving and answering."),
]
MaxTokens = Annotated[int, typer.Option("--max-tokens", min=1, help="Longest response, in tokens.")]
Timeout = Annotated[
    float,
    typer.Option(
        "--timeout", min=0.1, help="Seconds before one request is given up (then retried)."
    ),
]
Complexity = Annotated[
    bool,
    typer.Option(
        "--complexity/--no-complexity",
        help="Report the complexity gain per round (loads the spaCy parser).",
    ),
]
Retries = Annotated[
    int,
    typer.Option(
        "--max-retries", min=0, help="Retries per call on 429, 5xx, timeouts and malformed answers."
    ),
]


def default_cache(output: Path) -> Path:
    name = output.name
    for ext in (".gz", ".zst"):
        name = name.removesuffix(ext)
    return output.with_name(f"{name.rsplit('.', 1)[0]}.llm-cache.sqlite")


def register(app: typer.Typer) -> None:
    @app.command()
    @common_options(batch_size=5000)
    def evolve(
        inputs: Inputs,
        output: Output,
        base_url: BaseUrl = None,
        model: Model = None,
        rounds: Rounds = 4,
        seed: Seed = 0,
        concurrency: Concurrency = 8,
        keep_seeds: KeepSeeds = True,
        respond: Respond = False,
        cache: Cache = None,
        templates: TemplatesDir = None,
        temperature: Temperature = 0.7,
        max_tokens: MaxTokens = 512,
        timeout: Timeout = 120.0,
        max_retries: Retries = 6,
        complexity: Complexity = True,
        *,
        common: Common,
    ) -> None:
        """Make instructions harder with an LLM, round after round, eliminating failed evolutions."""
        config = EvolveConfig(
            rounds=rounds, seed=seed, keep_seeds=keep_seeds, respond=respond,
            temperature=temperature, respond_max_tokens=max_tokens,
        )  # fmt: skip
        step = EvolveStep(
            base_url=base_url, model=model, config=config, concurrency=concurrency, timeout=timeout,
            max_retries=max_retries, cache=cache or default_cache(output), templates=templates,
            complexity=complexity,
        )  # fmt: skip
        result = run_steps(inputs, output, [step], common)  # fmt: skip
        print_rounds(result.get("steps", {}).get("evolve", {}))


def print_rounds(report: dict) -> None:
    """The per-round table on stderr: counts, elimination reasons, complexity gain."""
    from rich.table import Table

    if not report.get("rounds"):
        return
    table = Table(title=f"evolve rounds ({report.get('model')})", title_justify="left")
    for col in ("round", "evolved", "survived", "eliminated", "failed calls", "complexity gain"):
        table.add_column(col)
    for row in report["rounds"]:
        gain = row.get("mean_complexity_gain")
        table.add_row(
            str(row["round"]), str(row["evolved"]), str(row["survived"]),
            ", ".join(f"{k} {v}" for k, v in row["eliminated"].items()) or "-",
            str(row["failed_calls"]), f"{gain:+.3f}" if isinstance(gain, float) else str(gain),
        )  # fmt: skip
    err.print(table)
