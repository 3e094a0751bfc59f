"""The four elimination criteria of Evol-Instruct, as cheap checks plus one LLM judgement.

1. ``no_information_gain``: the evolution asks for the same thing as its parent.
   A cheap pre-check first (token Jaccard of the normalised texts at or above
   ``similarity``, or identical text), then the LLM equality check for the rest.
2. ``model_struggled``: the response is short (under 80 words) and apologises or
   refuses — the evolved instruction was too hard or nonsensical.
3. ``stopword_response``: the response is only punctuation and stop words.
4. ``template_leak``: the evolved instruction still carries words of the prompt
   template ("#Rewritten Prompt#", "given prompt", or the variants small models
   invent: "#Generated Prompt#", "Original Prompt:").

The refusal patterns here are deliberately few (the ones that mark an LLM giving
up); the cleaning step's refusal library is the place for a full list, and
this module can switch to it once it exists.
"""

from __future__ import annotations

import re

from instructkit.text import words

#: Short responses only: a long answer that happens to say "sorry" is not a failure.
STRUGGLE_MAX_WORDS = 80

_REFUSAL = re.compile(
    r"\b(sorry|apologi[sz]e|i can(?:no|')t|i am (?:not able|unable)|i'm (?:not able|unable)"
    r"|as an ai\b|as a language model|i do(?:n't| not) (?:have|know)|cannot (?:assist|help|provide)"
    r"|not (?:possible|able) to (?:answer|provide|help))",
    re.IGNORECASE,
)
_LEAK = re.compile(
    r"#\s*(?:given|rewritten|created|generated|original|new)\s+prompt\s*#"
    r"|\b(?:given|rewritten|created|generated|original)\s+prompt\b",
    re.IGNORECASE,
)
#: English function words (a compact list; the check only needs to see that nothing else is there).
STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "ok",
        "okay",
        "yes",
    ]
)


def template_leak(instruction: str) -> str | None:
    """The leaked template words, if any."""
    m = _LEAK.search(instruction)
    return m.group(0) if m else None


def token_similarity(a: str, b: str) -> float:
    """Jaccard similarity of the two texts' normalised word sets (1.0 for two empty texts)."""
    wa, wb = set(words(a)), set(words(b))
    if not wa and not wb:
        return 1.0
    return len(wa & wb) / len(wa | wb)


def struggled(response: str) -> str | None:
    """The apology or refusal phrase of a short response, if any."""
    if len(response.split()) >= STRUGGLE_MAX_WORDS:
        return None
    m = _REFUSAL.search(response)
    return m.group(0) if m else None


def stopwords_only(response: str) -> bool:
    """True when nothing but punctuation, white space and stop words is left (an empty answer too)."""
    return all(w in STOP_WORDS for w in words(response))


def parse_equality(answer: str) -> bool | None:
    """The judge's verdict: True for "Equal", False for "Different"/"Not equal", None when unclear."""
    text = answer.strip().lower()
    if re.search(r"\b(not equal|different|unequal)\b", text):
        return False
    if re.search(r"\bequal\b", text):
        return True
    return None
