"""Prompt building for Self-Instruct: what the model is shown, kept apart from reading its answers.

Four templates, package data in ``instructkit/generate/templates/`` and
overridable file by file with ``--templates DIR`` (as evolve's are):

- ``instructions``: the in-context tasks numbered 1..k, then the request for
  k new ones numbered k+1..2k, one per line, not answered.  The paper's
  prompt ("Come up with a series of tasks:", the tasks, an open ``k+1.``) was
  written for a completion model; sent to a chat model as its message, the
  small offline model answers the tasks instead of going on with the list
  (docs/generate.md has the measurement).  ``{count}`` and ``{last}`` are
  filled when present, so the paper's prompt is one ``--templates`` file away;
- ``classify``: few-shot "is it classification?" for one instruction;
- ``instances_input_first``: input then output (open-ended tasks);
- ``instances_output_first``: class label then input (classification tasks,
  so the model does not write inputs that all fall in one class);
- ``respond``: the instruction and its input as they are, for an example the
  model gave an input but no output.

The few-shot templates are chat turns: a line ``---`` separates them, user
and assistant in turn, ending with the user's.  Shown as one block of text,
a small chat model answers the demonstrations instead of imitating them
(it wrote "Input: ..." and stopped, or echoed a demonstration); as earlier
turns of its own it follows their format, and so do strong models.

The in-context tasks of a request are drawn from a generator seeded by
(run seed, round, request), never from a shared stream, so a resumed run draws
the same tasks and its prompts hit the cache.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from instructkit.errors import InstructkitError
from instructkit.formats.base import join_input
from instructkit.llm.templates import PromptTemplates

_PLACEHOLDERS = {
    "instructions": ("{tasks}", "{next}"),
    "classify": ("{instruction}",),
    "instances_input_first": ("{instruction}",),
    "instances_output_first": ("{instruction}",),
    "respond": ("{instruction}",),
}
_SPACE = re.compile(r"\s+")
_OPEN = re.compile(r"^\d+[.)]\s*\Z", re.MULTILINE)
_TURN = re.compile(r"^---[ \t]*$", re.MULTILINE)
Messages = list[dict[str, str]]


@dataclass(frozen=True, slots=True)
class Task:
    """One instruction of the pool: a seed task or a generated one."""

    id: str
    instruction: str


class Templates(PromptTemplates):
    PACKAGE = "instructkit.generate"
    PLACEHOLDERS = _PLACEHOLDERS

    @classmethod
    def load(cls, override_dir: Path | None = None) -> Self:
        """As for every method, and a few-shot template must end with a user turn."""
        templates = super().load(override_dir)
        for name in ("classify", "instances_input_first", "instances_output_first"):
            if len(_TURN.split(templates.texts[name])) % 2 == 0:
                raise InstructkitError(
                    f"template {name}.txt: its '---' lines must leave user and assistant turns "
                    "in turn, ending with the user's (the one with {instruction})"
                )
        return templates

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
            .replace("{count}", str(len(tasks)))
            .replace("{last}", str(2 * len(tasks)))
        )

    def classify(self, instruction: str) -> Messages:
        return turns(self.texts["classify"].replace("{instruction}", instruction))

    def instances(self, instruction: str, classification: bool) -> Messages:
        name = "instances_output_first" if classification else "instances_input_first"
        return turns(self.texts[name].replace("{instruction}", instruction))

    def respond(self, instruction: str, inp: str) -> Messages:
        text = self.texts["respond"].replace("{instruction}", join_input(instruction, inp))
        return [{"role": "user", "content": text}]


def open_ended(prompt: str) -> bool:
    """Whether a bootstrap prompt ends with an open number for the model to go on from ("9.")."""
    return _OPEN.search(prompt) is not None


def turns(text: str) -> Messages:
    """A few-shot template's chat turns: user, assistant, ..., user (split at ``---`` lines)."""
    parts = [p.strip("\n") for p in _TURN.split(text)]
    return [
        {"role": "user" if i % 2 == 0 else "assistant", "content": p} for i, p in enumerate(parts)
    ]


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
