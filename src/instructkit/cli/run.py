"""``instructkit run RECIPE.yaml``: the whole curation chain in one run directory, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from instructkit.cli.common import err
from instructkit.cli.console import strip_controls
from instructkit.errors import InstructkitError

Engine = Annotated[
    str | None, typer.Option("--engine", help="local or ray (default: the recipe's engine).")
]
Address = Annotated[
    str | None, typer.Option("--ray-address", help="Join this Ray cluster (engine ray).")
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Print the plan (what runs, what is skipped) and stop.")
]


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        recipe: Annotated[Path, typer.Argument(help="The recipe (YAML).", show_default=False)],
        engine: Engine = None,
        ray_address: Address = None,
        dry_run: DryRun = False,
        debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    ) -> None:
        """Run a YAML recipe of steps into one run directory; a rerun skips the finished steps."""
        from instructkit.recipe import describe_plan, load, run_recipe

        plan = load(recipe)
        if engine is not None:
            if engine not in ("local", "ray"):
                raise InstructkitError(f"--engine '{engine}' is not one of local, ray")
            plan.engine = engine
        if ray_address is not None and plan.engine != "ray":
            raise InstructkitError("--ray-address needs the ray engine: add --engine ray")
        if dry_run:
            print("\n".join(strip_controls(line) for line in describe_plan(plan)))
            return

        def progress(msg: str) -> None:
            err.print(strip_controls(msg), markup=False, highlight=False)

        if plan.engine == "ray":
            from instructkit.engines import ray as ray_engine

            with ray_engine.session(ray_address):
                funnel = run_recipe(plan, progress=progress, runner=ray_engine.run)
        else:
            funnel = run_recipe(plan, progress=progress)
        err.print(
            f"{funnel['records_in']:,} records in, {funnel['records_out']:,} out, "
            f"{funnel['rejected_total']:,} rejected -> {strip_controls(plan.output)}",
            markup=False,
            highlight=False,
        )
