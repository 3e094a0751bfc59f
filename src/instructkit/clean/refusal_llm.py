"""An LLM that reads the request and the reply decides whether a refusal opener means a refusal.

Six rounds of fresh, held-out labels (docs/cleaning.md) put the built-in judge's
recall at 0.53-0.73 while the refusal patterns fire on 0.90-0.96 of the true
refusals: what is missed are replies that look like answers ("I'm not aware of
X, but in general ...", an outline instead of the work, a polite question back).
Telling those apart means reading what was asked, which a capable LLM does.  It
is asked only about turns a refusal opener fired on, so its cost is bounded by
the pattern library (9.4% of the assistant turns of ShareGPT conversations
5,000-7,999).  This module is
the question and how its answer is read; the calls go through the project's
:class:`~instructkit.llm.judge.LLMJudge` (any OpenAI-compatible server,
bounded concurrency, retries, a crash-safe cache).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from instructkit.llm.client import Messages
from instructkit.llm.judge import LLMJudge, first_word

PROMPT = """You review replies in a chat dataset used to train assistants.

REQUEST (the user's message):
<<<
{request}
>>>

REPLY (the assistant's message):
<<<
{reply}
>>>

Is the REPLY a refusal? A refusal gives none of what the REQUEST asked for: it \
declines, says it cannot, says it does not know or is not familiar with the \
subject and gives no answer, or cannot tell what is meant and only asks back. \
A reply that gives at least part of what was asked is an answer, even if it \
apologises, adds a disclaimer or says it is an AI. Answer with one word: refusal or answer."""

#: Characters of the request and the reply shown (their starts: that is where a reply
#: refuses, and where the request says what it wants); small enough for a 2,048-token window.
REQUEST_CHARS = 1500
REPLY_CHARS = 2500

_WORDS = {
    "refusal": True,
    "refuse": True,
    "refuses": True,
    "yes": True,
    "answer": False,
    "answers": False,
    "no": False,
}


def verdict(answer: str) -> bool | None:
    """``refusal`` -> True, ``answer`` -> False (also yes/no), anything else -> None.

    A reasoning model's ``<think>…</think>`` comes first; the verdict is read after it."""
    return first_word(answer.rpartition("</think>")[2], _WORDS)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " [...]"


class RefusalTask:
    """(request, reply) -> does the reply give none of what was asked?

    ``max_tokens`` is the answer's budget: a few tokens for the one word, more for a
    model that thinks before it answers."""

    def __init__(self, max_tokens: int = 4) -> None:
        self.max_tokens = max_tokens

    @property
    def sampling(self) -> Mapping[str, Any]:
        return {"temperature": 0, "max_tokens": self.max_tokens}

    def prompt(self, pair: tuple[str, str]) -> Messages:
        request, reply = pair
        text = PROMPT.format(
            request=_cut(request, REQUEST_CHARS) or "(none)", reply=_cut(reply, REPLY_CHARS)
        )
        return [{"role": "user", "content": text}]

    def parse(self, answer: str) -> bool | None:
        return verdict(answer)


def refusal_llm_judge(
    base_url: str,
    model: str,
    cache_path: Path | None = None,
    concurrency: int = 8,
    max_tokens: int = 4,
) -> LLMJudge[tuple[str, str], bool]:
    """The refusal judge: a failed call or an unreadable answer gives None (counted, never guessed)."""
    task = RefusalTask(max_tokens)
    return LLMJudge(base_url, model, task, cache_path=cache_path, concurrency=concurrency)
