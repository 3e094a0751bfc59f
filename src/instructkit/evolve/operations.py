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
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from instructkit.errors import InstructkitError

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


@dataclass(frozen=True)
class Templates:
    texts: dict[str, str]

    @classmethod
    def load(cls, override_dir: Path | None = None) -> Templates:
        """The packaged templates, with any same-named ``.txt`` file of ``override_dir`` in their place."""
        if override_dir is not None and not override_dir.is_dir():
            raise InstructkitError(f"--templates {override_dir}: not a folder")
        packaged = resources.files("instructkit.evolve") / "templates"
        texts: dict[str, str] = {}
        for name, needed in _PLACEHOLDERS.items():
            user = override_dir / f"{name}.txt" if override_dir is not None else None
            if user is not None and user.is_file():
                text, origin = user.read_text(encoding="utf-8"), str(user)
            else:
                text, origin = (
                    (packaged / f"{name}.txt").read_text(encoding="utf-8"),
                    f"packaged {name}.txt",
                )
            missing = [p for p in needed if p not in text]
            if missing:
                raise InstructkitError(
                    f"template {origin} lacks the placeholder(s) {', '.join(missing)}"
                )
            texts[name] = text
        return cls(texts)

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
