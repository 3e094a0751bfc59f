"""Tier 3 (optional): an LLM judge decides the suspicious embedding band.

Cosine similarity cannot tell "the same test question, reworded" from "another
question on the same topic"; a capable LLM can.  It is asked only about pairs in
the band just below the embedding threshold, so its cost stays small.  This
module is the question and how its answer is read; the calls go through the
project's :class:`~instructkit.llm.judge.LLMJudge` (the ``openai`` SDK with
bounded concurrency, retries and a crash-safe cache), so any OpenAI-compatible
server works (vLLM, llama.cpp's server, Ollama, OpenAI).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from instructkit.llm.client import Messages
from instructkit.llm.judge import LLMJudge, first_word

PROMPT = """You check training data for benchmark contamination.

TEST ITEM:
{item}

CANDIDATE:
{text}

Is the CANDIDATE the same task as the TEST ITEM, possibly reworded, reordered or \
with small edits (so that training on it would leak the test item)? \
Different tasks on the same topic are NOT the same. Answer with one word: yes or no."""

#: Characters of each text shown to the judge; longer texts are cut (the judge sees the start).
MAX_CHARS = 4000


def verdict(answer: str) -> bool | None:
    """``yes`` -> True, ``no`` -> False, anything else -> None (the pair stays suspicious)."""
    return first_word(answer, {"yes": True, "no": False})


class RephraseTask:
    """(candidate text, test item text) -> is the candidate the test item, reworded?"""

    @property
    def sampling(self) -> Mapping[str, Any]:
        return {"temperature": 0, "max_tokens": 4}

    def prompt(self, pair: tuple[str, str]) -> Messages:
        text, item = pair
        return [
            {"role": "user", "content": PROMPT.format(item=item[:MAX_CHARS], text=text[:MAX_CHARS])}
        ]

    def parse(self, answer: str) -> bool | None:
        return verdict(answer)


def rephrase_judge(
    base_url: str, model: str, cache_path: Path | None = None
) -> LLMJudge[tuple[str, str], bool]:
    """The contamination judge: a failed call leaves its pair suspicious (None) and is counted."""
    return LLMJudge(base_url, model, RephraseTask(), cache_path=cache_path)
