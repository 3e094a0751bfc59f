"""Decides whether a turn that opens with a refusal pattern delivers anyway.

A refusal opener ("I'm sorry, but I can't create tables here", "As an AI, I
don't have opinions") is followed by the answer more often than one would
think: partial answers and answers that talk about being an AI are not
refusals (a refusal gives none of what was asked).  What follows the opening
sentence tells them apart, so the judge scores that remainder with a handful of
countable features and a logistic regression whose weights live in
``patterns/refusal_judge.json`` (trained by ``benchmarks/train_refusal_judge.py``
on labelled real responses).  Every decision keeps its numbers, so a reject can
say why ("rest 84 chars, asks back, p=0.93").
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from instructkit.clean.refusals import Hit

#: The features, in the order of the weights.
FEATURES = ("content_log", "lead_log", "code", "list", "delivers", "asks_back")
WEIGHTS_FILE = "refusal_judge.json"

_SENTENCE = re.compile(r"(?<=[.!?:])\s+|\n+")
_ASKS = re.compile(
    r"\b(?:could|can|would|will)\s+you\s+(?:please\s+)?(?:provide|clarify|specify|share|give|tell|explain|send|rephrase|paste|include|let\s+me\s+know)"
    r"|\bplease\s+(?:provide|clarify|specify|share|send|paste|let\s+me\s+know)"
    r"|\bmore\s+(?:context|information|details)\b",
    re.IGNORECASE,
)
_FILLER = re.compile(
    r"\b(?:anything\s+else|happy\s+to\s+(?:help|assist)|do\s+my\s+best|let\s+me\s+know|feel\s+free|here\s+to\s+help|assist\s+you)\b",
    re.IGNORECASE,
)
_DELIVERS = re.compile(
    r"\b(?:however|instead|alternatively|that\s+said)\b|\bhere(?:'s|\s+is|\s+are)\b"
    r"|\bI\s+(?:can|could|will|'ll)\s+(?:certainly\s+|still\s+|try\s+to\s+)?(?:give|provide|offer|suggest|show|share|outline|describe|tell|explain|write|create|simulate|list)\b",
    re.IGNORECASE,
)
_CODE = re.compile(r"```|^\s{4}\S", re.MULTILINE)
_LIST = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+\S", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Judgement:
    refusal: bool
    probability: float
    content_chars: int
    asks_back: bool


def _sentence_end(text: str, pos: int) -> int:
    m = _SENTENCE.search(text, pos)
    return m.end() if m else len(text)


def features(text: str, hit_end: int) -> tuple[list[float], int, bool]:
    """Features of the text around the sentence the refusal hit ends in (what leads to it, what follows), plus two raw values."""
    rest = text[_sentence_end(text, hit_end) :]
    starts = [m.end() for m in _SENTENCE.finditer(text, 0, hit_end)]
    lead = text[: starts[-1]] if starts else ""
    sentences = [s for s in _SENTENCE.split(rest) if s.strip()]
    asks = any(_ASKS.search(s) for s in sentences)
    content = sum(len(s) for s in sentences if not _ASKS.search(s) and not _FILLER.search(s))
    vec = [
        math.log1p(content),
        math.log1p(len(lead.strip())),
        1.0 if _CODE.search(rest) else 0.0,
        1.0 if len(_LIST.findall(rest)) >= 2 else 0.0,
        1.0 if _DELIVERS.search(rest) else 0.0,
        1.0 if asks else 0.0,
    ]
    return vec, content, asks


class RefusalJudge:
    """Logistic regression over :data:`FEATURES`; ``judge`` says refusal or delivered."""

    def __init__(self, weights: dict[str, float], bias: float, threshold: float) -> None:
        missing = set(FEATURES) - set(weights)
        if missing:
            raise ValueError(f"refusal judge weights lack {sorted(missing)}")
        self.weights = [weights[f] for f in FEATURES]
        self.bias = bias
        self.threshold = threshold

    @classmethod
    def load(cls) -> RefusalJudge:
        doc = json.loads(
            resources.files("instructkit.clean")
            .joinpath("patterns", WEIGHTS_FILE)
            .read_text("utf-8")
        )
        return cls(doc["weights"], doc["bias"], doc["threshold"])

    def judge(self, text: str, hit_end: int) -> Judgement:
        vec, content, asks = features(text, hit_end)
        z = self.bias + sum(w * x for w, x in zip(self.weights, vec))
        p = 1.0 / (1.0 + math.exp(-z))
        return Judgement(p >= self.threshold, p, content, asks)


@lru_cache(maxsize=1)
def default_judge() -> RefusalJudge:
    return RefusalJudge.load()


def first_refusal(hits: list[Hit]) -> Hit | None:
    """The earliest hit of the ``refusal`` category, which the judge looks past."""
    found = [h for h in hits if h.category == "refusal"]
    return min(found, key=lambda h: h.start) if found else None
