"""The step registry: adding a step is one new module plus one line here.

Steps are found by dotted path, and a step module imports its models only in
``setup()``: the command line reads every step's config to build its commands
and still starts without torch, spaCy or Ray (0.7 s to import the CLI).
"""

from __future__ import annotations

import importlib

from instructkit.errors import InstructkitError
from instructkit.steps.base import Step, StepResult, split

#: step name -> "module:Class"
REGISTRY: dict[str, str] = {
    "clean": "instructkit.steps.clean:CleanStep",
    "dedup": "instructkit.steps.dedup:Dedup",
    "evolve": "instructkit.steps.evolve:EvolveStep",
    "decontaminate": "instructkit.steps.decontaminate:Decontaminate",
    "score": "instructkit.steps.score:ScoreStep",
    "select": "instructkit.steps.select:Select",
    "generate": "instructkit.steps.generate:GenerateStep",
}


def get_step(name: str) -> type[Step]:
    try:
        module, _, cls = REGISTRY[name].partition(":")
    except KeyError:
        raise InstructkitError(
            f"unknown step '{name}': choose one of {', '.join(sorted(REGISTRY))}"
        ) from None
    return getattr(importlib.import_module(module), cls)


__all__ = ["REGISTRY", "Step", "StepResult", "get_step", "split"]
