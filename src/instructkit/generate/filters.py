"""The Self-Instruct filters a candidate instruction must pass before it joins the pool.

Cheap rules first, in the order of the original code (Wang et al. 2023,
``bootstrap_instructions.py``; the keyword list as extended by Stanford Alpaca):

- ``too_short`` / ``too_long``: more than 3 and at most 150 words;
- ``unsuitable_task``: a word a text-only model cannot act on (image, graph,
  file, map, draw, plot, go to, video, audio, ...), matched as a whole word;
- ``write_a_program``: starts with "Write a program" (the model tends to bolt
  it onto existing tasks, and it is unclear whether code or a result is wanted);
- ``starts_with_punctuation`` / ``starts_non_ascii``: the first character.

Then novelty (``too_similar``): ROUGE-L with every instruction already in the
pool must stay below the threshold (:mod:`instructkit.generate.rouge`).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

MIN_WORDS = 3  # a candidate needs more words than this
MAX_WORDS = 150
UNSUITABLE = (
    "image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map", "maps",
    "draw", "plot", "go to", "video", "audio", "music", "flowchart", "diagram",
)  # fmt: skip
_UNSUITABLE = re.compile(r"\b(" + "|".join(map(re.escape, UNSUITABLE)) + r")\b", re.IGNORECASE)
#: Every reason a candidate instruction can be rejected for, in the order they are checked.
REASONS = (
    "too_short",
    "too_long",
    "unsuitable_task",
    "write_a_program",
    "starts_with_punctuation",
    "starts_non_ascii",
    "too_similar",
)


@dataclass(frozen=True, slots=True)
class Verdict:
    reason: str
    detail: str


def rule_verdict(instruction: str) -> Verdict | None:
    """The first rule the instruction breaks, or None when it passes them all."""
    n = len(instruction.split())
    if n <= MIN_WORDS:
        return Verdict("too_short", f"{n} word(s); an instruction needs more than {MIN_WORDS}")
    if n > MAX_WORDS:
        return Verdict("too_long", f"{n} words; an instruction may have at most {MAX_WORDS}")
    if m := _UNSUITABLE.search(instruction):
        return Verdict(
            "unsuitable_task", f"mentions '{m.group(0)}', which a text-only model cannot do"
        )
    if instruction.startswith("Write a program"):
        return Verdict("write_a_program", "starts with 'Write a program' (code or result unclear)")
    if instruction[0] in string.punctuation:
        return Verdict("starts_with_punctuation", f"starts with {instruction[0]!r}")
    if not instruction[0].isascii():
        return Verdict(
            "starts_non_ascii", f"starts with the non-ASCII character {instruction[0]!r}"
        )
    return None


def similarity_verdict(score: float, threshold: float, pool_id: str, pool_text: str) -> Verdict:
    """The novelty reject: which pool instruction it was too close to, and how close."""
    shown = pool_text if len(pool_text) <= 200 else pool_text[:197] + "..."
    return Verdict(
        "too_similar",
        f"ROUGE-L {score:.3f} (>= {threshold}) to pool instruction {pool_id}: {shown!r}",
    )
