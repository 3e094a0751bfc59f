"""Tier 3 (optional): an LLM judge decides the suspicious embedding band.

Cosine similarity cannot tell "the same test question, reworded" from "another
question on the same topic"; a capable LLM can.  It is asked only about pairs in
the band just below the embedding threshold, so its cost stays small.  Calls go
through the project's :class:`~instructkit.llm.LLMClient` (the ``openai`` SDK
with bounded concurrency, retries and a crash-safe cache), so any
OpenAI-compatible server works (vLLM, llama.cpp's server, Ollama, OpenAI).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from instructkit.llm import CallFailure, LLMClient

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
    words = answer.strip().lower().lstrip("*\"'` ").split(maxsplit=1)
    word = words[0].strip(".,!:*\"'`") if words else ""
    return {"yes": True, "no": False}.get(word)


@dataclass
class Judge:
    base_url: str
    model: str
    cache_path: Path | None = None
    failures: list[str] = field(default_factory=list)
    unclear: int = 0
    _client: LLMClient | None = field(default=None, repr=False)

    def decide(self, pairs: list[tuple[str, str]]) -> list[bool | None]:
        """For each (candidate text, test item text): is it a rephrasing?  None when the call failed."""
        if not pairs:
            return []
        if self._client is None:
            self._client = LLMClient(self.base_url, self.model, cache_path=self.cache_path)
        prompts = [
            [
                {
                    "role": "user",
                    "content": PROMPT.format(item=item[:MAX_CHARS], text=text[:MAX_CHARS]),
                }
            ]
            for text, item in pairs
        ]
        out: list[bool | None] = []
        for res in self._client.chat_many(prompts, temperature=0, max_tokens=4):
            if isinstance(res, CallFailure):
                self.failures.append(f"{res.kind}: {res.error}"[:200])
                out.append(None)
                continue
            v = verdict(res.text)
            self.unclear += v is None
            out.append(v)
        return out

    def summary(self) -> dict[str, object]:
        usage = self._client.usage.as_dict() if self._client else {}
        return {
            "model": self.model,
            "unclear": self.unclear,
            "failed": len(self.failures),
            "first_failure": self.failures[0] if self.failures else None,
            **usage,
        }
