"""Prompt building for Self-Instruct: what the model is shown, kept apart from reading its answers.

Four templates, package data in ``instructkit/generate/templates/`` and
overridable file by file with ``--templates DIR`` (as evolve's are):

- ``instructions``: "Come up with a series of tasks:" then the in-context
  tasks numbered 1..k and an open ``k+1.`` for the model to continue;
- ``classify``: few-shot "is it classification?" for one instruction;
- ``instances_input_first``: input then output (open-ended tasks);
- ``instances_output_first``: class label then input (classification tasks,
  so the model does not write inputs that all fall in one class).

The in-context tasks of a request are drawn from a generator seeded by
(run seed, round, request), never from a shared stream, so a resumed run draws
the same tasks and its prompts hit the cache.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from instructkit.llm.templates import PromptTemplates

_PLACEHOLDERS = {
    "instructions": ("{tasks}", "{next}"),
    "classify": ("{instruction}",),
    "instances_input_first": ("{instruction}",),
    "instances_output_first": ("{instruction}",),
}
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Task:
    """One instruction of the pool: a seed task or a generated one."""

    id: str
    instruction: str


class Templates(PromptTemplates):
    PACKAGE = "instructkit.generate"
    PLACEHOLDERS = _PLACEHOLDERS

    @staticmethod
    def tidy(text: str) -> str:
        return text.rstrip("\n")

    def instructions(self, tasks: list[Task]) -> str:
        """The bootstrap prompt: tasks on one line each (white space collapsed, a trailing colon dropped)."""
        lines = [
            f"{i}. {_SPACE.sub(' ', t.instruction).strip().rstrip(':')}"
            for i, t in enumerate(tasks, 1)
        ]
        return (
            self.texts["instructions"]
            .replace("{tasks}", "\n".join(lines))
            .replace("{next}", str(len(tasks) + 1))
        )

    def classify(self, instruction: str) -> str:
        return self.texts["classify"].replace("{instruction}", instruction)

    def instances(self, instruction: str, classification: bool) -> str:
        name = "instances_output_first" if classification else "instances_input_first"
        return self.texts[name].replace("{instruction}", instruction)


def in_context(
    seeds: list[Task], generated: list[Task], total: int, from_generated: int, rng: random.Random
) -> list[Task]:
    """``total`` tasks for one request: up to ``from_generated`` generated ones, the rest seeds, shuffled."""
    gen = rng.sample(generated, min(from_generated, len(generated)))
    chosen = gen + rng.sample(seeds, min(total - len(gen), len(seeds)))
    rng.shuffle(chosen)
    return chosen


def request_rng(seed: int, round_: int, request: int) -> random.Random:
    return random.Random(f"{seed}|{round_}|{request}")


def call_seed(seed: int, *parts: object) -> int:
    """The sampling seed sent with one call (servers that honour it repeat themselves)."""
    return random.Random("call|" + "|".join(map(str, (seed, *parts)))).randrange(2**31)
