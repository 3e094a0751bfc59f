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
from importlib import resources
from pathlib import Path

from instructkit.errors import InstructkitError

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


@dataclass(frozen=True)
class Templates:
    texts: dict[str, str]

    @classmethod
    def load(cls, override_dir: Path | None = None) -> Templates:
        """The packaged templates, with any same-named ``.txt`` file of ``override_dir`` in their place."""
        if override_dir is not None and not override_dir.is_dir():
            raise InstructkitError(f"option 'templates': {override_dir} is not a folder")
        packaged = resources.files("instructkit.generate") / "templates"
        texts: dict[str, str] = {}
        for name, needed in _PLACEHOLDERS.items():
            user = override_dir / f"{name}.txt" if override_dir is not None else None
            if user is not None and user.is_file():
                text, origin = user.read_text(encoding="utf-8"), str(user)
            else:
                text = (packaged / f"{name}.txt").read_text(encoding="utf-8")
                origin = f"packaged {name}.txt"
            missing = [p for p in needed if p not in text]
            if missing:
                raise InstructkitError(
                    f"template {origin} lacks the placeholder(s) {', '.join(missing)}"
                )
            texts[name] = text.rstrip("\n")
        return cls(texts)

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
