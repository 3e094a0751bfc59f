"""The six Evol-Instruct operations, their prompt templates, and the seeded choice between them.

Templates are package data (``instructkit/evolve/templates/NAME.txt``) so they
can be read and changed without touching code; ``--templates DIR`` overrides
any of them file by file (a missing file falls back to the packaged one).  They
are filled with ``str.replace`` rather than ``str.format`` because instructions
are full of braces (code, JSON).

The operation for a record in a round is drawn from a generator seeded by
(run seed, record id, round), not from one shared stream, so the choice does
not depend on the order in which concurrent calls finish: a resumed run makes
exactly the same choices.
"""

from __future__ import annotations

import random

from instructkit.llm.templates import PromptTemplates

#: The five in-depth operations, then in-breadth (a new, rarer instruction in the same domain).
IN_DEPTH = (
    "add_constraints",
    "deepening",
    "concretizing",
    "increase_reasoning",
    "complicate_input",
)
OPERATIONS = (*IN_DEPTH, "in_breadth")
EQUALITY = "equality"
_PLACEHOLDERS = {name: ("{instruction}",) for name in OPERATIONS} | {
    EQUALITY: ("{first}", "{second}")
}


class Templates(PromptTemplates):
    PACKAGE = "instructkit.evolve"
    PLACEHOLDERS = _PLACEHOLDERS

    def evolve_prompt(self, operation: str, instruction: str) -> str:
        return self.texts[operation].replace("{instruction}", instruction)

    def equality_prompt(self, first: str, second: str) -> str:
        return self.texts[EQUALITY].replace("{first}", first).replace("{second}", second)


def choose_operation(seed: int, record_id: str, round_: int) -> str:
    """A uniform choice among the six operations, reproducible per (seed, record, round)."""
    return random.Random(f"{seed}|{record_id}|{round_}").choice(OPERATIONS)


def call_seed(seed: int, record_id: str, round_: int) -> int:
    """The sampling seed sent to the server for this record and round (servers that honour it repeat)."""
    return random.Random(f"call|{seed}|{record_id}|{round_}").randrange(2**31)


def clean_evolved(text: str) -> str:
    """Trim the model's answer to the instruction itself: white space and one wrapping pair of quotes.

    Nothing more: a leaked template label is evidence for the elimination step,
    not something to tidy away.
    """
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text
