"""Decides whether a turn that opens with a refusal pattern delivers anyway.

A refusal opener ("I'm sorry, but I can't create tables here", "Could you
clarify what you mean?") is followed by the answer more often than one would
think: partial answers, answers that talk about being an AI, and a "Sure! Could
you share more details?" before a task the user has yet to give are not
refusals (a refusal gives none of what was asked).  The judge scores the turn
in two steps: a code block or a list after the opening sentence means it
delivered (a rule: 39 of 40 such tuning rows were answers); otherwise a logistic
regression over a handful of countable features of what follows the opening
sentence (content left once asking-back, filler and generic sentences are set
aside; a delivery cue; numbers and names), what leads up to it, whether the
turn opens by taking the task on, and two things about the user turn it
answers: does it open by asking for a piece of work ("Write ...", "Can you
list ..."), and does it open with a greeting (a "Hi, have you read X?" is
answered by "As an AI I do not read books, but ..." more often than refused).
Other user-turn features (its length, a question mark, a set-up such as "I will
send you a text", the share of the request's words the reply repeats, words the
reply adds, and in session 5 a set-up or a follow-up such as "continue" /
"no, that is wrong") did not help on cross-validation and were left out.
Taking the task on includes "Acknowledged." and "Alright,": with those the
answer to a set-up message ("I will give you the details") asks for the
material without being a refusal.  Since session 5 round 2 a second regression
reads the character n-grams of the turn's opening as well (word n-grams had
lost in session 4 on random folds; character n-grams won on leave-one-set-out
evaluation, where openers written from one set's misses had not carried over
to the next, see docs/cleaning.md), and it alone judges turns where only the
generic cue family (``generic_cue``: "not aware", "difficult to", "sorry", ...)
fired.  The weights live in ``patterns/refusal_judge.json``, fitted by
``benchmarks/train_refusal_judge.py`` on labelled real responses and applied
here with dict look-ups (no scikit-learn at clean time); every decision keeps
its numbers and the features and n-grams that weighed most, so a reject can
say why ("0 chars of content, asks back, p=0.93").
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from instructkit.clean.refusals import Hit

#: The features, in the order of the weights.
FEATURES = (
    "content_log",
    "lead_log",
    "length_log",
    "delivers",
    "asks_back",
    "accepts",
    "generic",
    "specifics",
    "user_task",
    "user_greets",
)
WEIGHTS_FILE = "refusal_judge.json"
#: The rule of the generic cue family (``patterns/refusals.yaml``); every other refusal rule is specific.
GENERIC_RULE = "generic_cue"
#: How much of the turn the n-gram model reads: the opening, where refusals say what they are.
NGRAM_HEAD = 300
#: The language of the openers the n-gram model judges (it learnt from English replies).
ENGLISH = "en"

_SENTENCE = re.compile(r"(?<=[.!?:])\s+|\n+")
_ASKS = re.compile(
    r"\b(?:could|can|would|will)\s+you\s+(?:please\s+)?(?:provide|clarify|specify|share|give|tell|explain|send|rephrase|paste|include|let\s+me\s+know|repeat)"
    r"|\bplease\s+(?:provide|clarify|specify|share|send|paste|let\s+me\s+know|repeat)"
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
#: Short courtesy sentences before the opener ("I apologize for the confusion.") do not count as lead.
_COURTESY = re.compile(
    r"^\W*(?:I\s+apologi[sz]e|(?:I'm|I\s+am)\s+sorry|my\s+apologies|apologies|sorry|thank|thanks|hello|hi|hey|great|it(?:'s|\s+is)\s+great|that(?:'s|\s+is)\s+great|you(?:'re|\s+are)\s+(?:right|correct))\b",
    re.IGNORECASE,
)
#: The turn opens by taking the task on ("Sure, ...", "Yes, I can ...") before the opener.
_ACCEPTS = re.compile(
    r"^\W*(?:sure|yes|of\s+course|certainly|absolutely|great|okay|ok|acknowledged|understood|I\s+acknowledge|alright|all\s+right|got\s+it|noted|I(?:'d|\s+would)\s+be\s+(?:happy|glad)|I\s+can\s+(?:definitely|certainly))\b",
    re.IGNORECASE,
)
#: What a non-answer fills the space with: generalities, guesses, pointers elsewhere.
_GENERIC = re.compile(
    r"\b(?:in\s+general|generally|it(?:'s|\s+is)\s+possible\s+that|it\s+may\s+be|may\s+be\s+able\s+to\s+find|you\s+(?:may|might)\s+(?:want|need)\s+to|you\s+(?:could|can)\s+try|I\s+(?:would\s+)?(?:suggest|recommend)\s+(?:checking|contacting|consulting|searching|looking|reaching|visiting|that\s+you)|(?:contact|consult|check|visit|search|refer\s+to)\s+(?:with\s+)?(?:the|their|a|an|official|your)\b|depend(?:s|ing)\s+on|var(?:y|ies)\s+(?:greatly|widely|depending)|(?:difficult|hard|impossible)\s+to\s+(?:say|estimate|determine|predict|know)|it\s+is\s+likely\s+that|(?:is|are)\s+likely\s+to|may\s+(?:also\s+)?(?:provide|include|have|be\s+able))",
    re.IGNORECASE,
)
#: Numbers, names in mid-sentence and quoted strings: what answers have and filler lacks.
_SPECIFIC = re.compile(r"\b\d[\d,.:/-]*\b|(?<=[a-z,;] )[A-Z][\w-]+|`[^`\n]+`|\"[^\"\n]{2,60}\"")
#: The user turn opens by asking for a piece of work: what a reply that asks back leaves undone.
_USER_TASK = re.compile(
    r"^\W*(?:please\s+|(?:can|could|would)\s+you\s+(?:please\s+)?)?(?:write|give|list|make|create|explain|tell|provide|show|generate|summari[sz]e|translate|continue|describe|draft|rewrite|add|find|name|suggest|compare|calculate|convert|fix|design|build|plan|outline|expand|elaborate)\b",
    re.IGNORECASE,
)
_USER_GREETS = re.compile(
    r"^\W*(?:hi|hello|hey|good\s+(?:morning|afternoon|evening)|how\s+are\s+you|how\s+have\s+you\s+been)\b",
    re.IGNORECASE,
)
_CODE = re.compile(r"```[^\n]*\n[^`]*?\S[^`]*?```|^\s{4}\S", re.MULTILINE)
_LIST = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+\S", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Judgement:
    refusal: bool
    probability: float
    content_chars: int
    asks_back: bool
    #: The features that pushed hardest towards the decision, strongest first ("accepts -1.1").
    evidence: tuple[str, ...] = ()
    #: Only the generic cue family fired (no specific opener), so the stricter threshold applied.
    generic: bool = False


def _sentence_end(text: str, pos: int) -> int:
    m = _SENTENCE.search(text, pos)
    return m.end() if m else len(text)


def _sentence_start(text: str, pos: int) -> int:
    starts = [m.end() for m in _SENTENCE.finditer(text, 0, pos)]
    return starts[-1] if starts else 0


#: Non-empty lines before the opening sentence that make it an answer with a follow-up question.
ANSWER_LINES = 3


def delivered_structure(text: str, hit_end: int) -> str | None:
    """Where the turn delivered by its shape ("a code block after the opener", ...), else None.

    Decided by rule, not by the regression: on the tuning labels 39 of the 40
    openers followed by a non-empty code block or a list of two or more items
    were answers (the one refusal had an empty code block, which does not
    count).  The same shapes before the opening sentence, or three lines of it
    (a poem, an address), mean an answer that ends by asking a follow-up
    question ("... Could you provide more details about the tone?"); no tuning
    row has them, refusal or not, so the rule costs nothing there and keeps
    short answers that close with a question.
    """
    rest = text[_sentence_end(text, hit_end) :]
    if _CODE.search(rest):
        return "a code block after the opener"
    if len(_LIST.findall(rest)) >= 2:
        return "a list after the opener"
    before = text[: _sentence_start(text, hit_end)]
    if _CODE.search(before):
        return "a code block before the opener"
    if len(_LIST.findall(before)) >= 2:
        return "a list before the opener"
    if sum(1 for line in before.splitlines() if line.strip()) >= ANSWER_LINES:
        return f"{ANSWER_LINES}+ lines of answer before the opener"
    return None


def features(text: str, hit_end: int, user: str = "") -> tuple[list[float], int, bool]:
    """Values of :data:`FEATURES` for a turn whose refusal opener ends at ``hit_end``, plus content length and asks-back.

    ``user`` is the user turn the response answers ("" when there is none or it
    is unknown: both user features are then 0).
    """
    end = _sentence_end(text, hit_end)
    rest = text[end:]
    lead = sum(
        len(s.strip())
        for s in _SENTENCE.split(text[: _sentence_start(text, hit_end)])
        if s.strip() and not (_COURTESY.match(s) and len(s) < 120)
    )
    sentences = [s for s in _SENTENCE.split(rest) if s.strip()]
    asks = any(_ASKS.search(s) for s in sentences) or bool(_ASKS.search(text[:end]))
    content = sum(
        len(s)
        for s in sentences
        if not _ASKS.search(s) and not _FILLER.search(s) and not _GENERIC.search(s)
    )
    vec = [
        math.log1p(content),
        math.log1p(lead),
        math.log1p(len(text)),
        1.0 if _DELIVERS.search(rest) or _DELIVERS.search(text[hit_end:end]) else 0.0,
        1.0 if asks else 0.0,
        1.0 if _ACCEPTS.match(text) else 0.0,
        math.log1p(len(_GENERIC.findall(rest))),
        math.log1p(len(_SPECIFIC.findall(rest))),
        1.0 if _USER_TASK.match(user) else 0.0,
        1.0 if _USER_GREETS.match(user) else 0.0,
    ]
    return vec, content, asks


def char_ngrams(text: str, low: int = 3, high: int = 5) -> set[str]:
    """Character n-grams within words (each word padded with a space), as scikit-learn's ``char_wb`` makes them.

    Applied to the lower-cased opening of a turn; the weights are fitted with
    scikit-learn (benchmarks/train_refusal_judge.py, which checks this function
    gives the same n-grams) but applied here with plain dict look-ups, so
    ``clean`` needs neither scikit-learn nor a model download.
    """
    out: set[str] = set()
    for word in text.split():
        w = f" {word} "
        for n in range(low, high + 1):
            if len(w) <= n:
                out.add(w)
                continue
            out.update(w[i : i + n] for i in range(len(w) - n + 1))
    return out


class RefusalJudge:
    """Two logistic regressions; ``judge`` says refusal or delivered.

    The first reads the countable :data:`FEATURES`; the second reads the same
    features, whether a specific opener fired, and the character n-grams of the
    turn's first :data:`NGRAM_HEAD` characters (the words of the opening:
    "not aware of", "difficult to say", "however, you can"). After a specific
    opener the two probabilities are averaged; after only the generic cue family
    the n-gram model decides alone, with a stricter threshold (a cue word is far
    weaker evidence than an opener). Chosen by leave-one-set-out evaluation
    over the label sets (docs/cleaning.md): it raised recall on every left-out
    set at the same pooled precision, where openers written from one set's
    misses had not carried over to the next.
    """

    def __init__(self, doc: dict[str, Any]) -> None:
        weights = doc["weights"]
        missing = set(FEATURES) - set(weights)
        if missing:
            raise ValueError(f"refusal judge weights lack {sorted(missing)}")
        self.weights = [weights[f] for f in FEATURES]
        self.bias = doc["bias"]
        ngram = doc["ngram"]
        self.ngram_weights = [ngram["weights"][f] for f in (*FEATURES, "specific")]
        self.ngram_bias = ngram["bias"]
        self.grams: dict[str, float] = ngram["grams"]
        self.threshold = doc["threshold"]
        self.generic_threshold = doc["generic_threshold"]
        self.counts_threshold = doc["counts_threshold"]

    @classmethod
    def load(cls) -> RefusalJudge:
        doc = json.loads(
            resources.files("instructkit.clean")
            .joinpath("patterns", WEIGHTS_FILE)
            .read_text("utf-8")
        )
        return cls(doc)

    def judge(self, text: str, opener: Hit, lang: str, user: str = "") -> Judgement:
        """Refusal or delivered, for a response where ``opener`` (from :func:`first_refusal`,
        a rule of language ``lang``) fired, answering ``user``."""
        vec, content, asks = features(text, opener.end, user)
        shown = delivered_structure(text, opener.end)
        generic = opener.rule == GENERIC_RULE
        if shown:
            return Judgement(False, 0.0, content, asks, (shown,), generic)
        parts = [w * x for w, x in zip(self.weights, vec)]
        p_counts = _sigmoid(self.bias + sum(parts))
        grams: list[tuple[str, float]] = []
        if lang != ENGLISH:
            # the n-grams were learnt from English replies: other languages keep the counts model alone
            p, refusal = p_counts, p_counts >= self.counts_threshold
        else:
            grams = [
                (g, self.grams[g])
                for g in char_ngrams(text[:NGRAM_HEAD].lower())
                if g in self.grams
            ]
            ngram_parts = [w * x for w, x in zip(self.ngram_weights, [*vec, float(not generic)])]
            p_words = _sigmoid(self.ngram_bias + sum(ngram_parts) + sum(w for _, w in grams))
            if generic:
                p, refusal = p_words, p_words >= self.generic_threshold
            else:
                p = (p_counts + p_words) / 2
                refusal = p >= self.threshold
        ranked = sorted(zip(FEATURES, parts), key=lambda kv: -kv[1] if refusal else kv[1])
        evidence = [f"{k} {v:+.1f}" for k, v in ranked[:3] if v and (v > 0) == refusal]
        top = sorted(grams, key=lambda gw: -gw[1] if refusal else gw[1])[:3]
        if top and (top[0][1] > 0) == refusal:
            evidence.append("n-grams " + ", ".join(repr(g) for g, w in top if (w > 0) == refusal))
        return Judgement(refusal, p, content, asks, tuple(evidence), generic)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


@lru_cache(maxsize=1)
def default_judge() -> RefusalJudge:
    return RefusalJudge.load()


def user_turn_before(messages: list[dict[str, Any]], turn: int) -> str:
    """The text of the last user message before ``messages[turn]`` ("" when there is none)."""
    for m in reversed(messages[:turn]):
        if m.get("role") == "user":
            return m.get("content") or ""
    return ""


def first_refusal(hits: list[Hit]) -> Hit | None:
    """The earliest specific hit of the ``refusal`` category, else the earliest generic cue; the judge looks past it."""
    found = [h for h in hits if h.category == "refusal"]
    specific = [h for h in found if h.rule != GENERIC_RULE]
    return min(specific or found, key=lambda h: h.start) if found else None
