"""An LLM as a judge: one class for the shared part, one small task per question asked.

Building the prompt and reading the answer are kept apart, as distilabel's tasks
do (``format_input`` / ``format_output``): a :class:`JudgeTask` says how one item
becomes chat messages, with which sampling, and how an answer becomes a verdict;
:class:`LLMJudge` owns everything else — the :class:`~instructkit.llm.LLMClient`
(bounded concurrency, retries, the crash-safe SQLite cache), what failed and what
could not be read.  The decontamination step asks "is this a rephrased test
item?" (``decontam.judge``), the factual metric "does the evidence support this
claim?" (``score.factual``): two tasks, one judge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from instructkit.errors import InstructkitError
from instructkit.llm.client import CallFailure, LLMClient, Messages

ItemT_contra = TypeVar("ItemT_contra", contravariant=True)
VerdictT_co = TypeVar("VerdictT_co", covariant=True)
ItemT = TypeVar("ItemT")
VerdictT = TypeVar("VerdictT")


def first_word(answer: str, words: Mapping[str, VerdictT]) -> VerdictT | None:
    """The verdict the answer's first word names (case, quotes and markdown stars ignored), or
    None: a judge asked for one word is read by that word alone, never guessed from the rest."""
    parts = answer.strip().lower().lstrip("*\"'` ").split(maxsplit=1)
    return words.get(parts[0].strip(".,!:*\"'`")) if parts else None


class JudgeTask(Protocol[ItemT_contra, VerdictT_co]):
    """What is asked and how the answer is read; no I/O."""

    @property
    def sampling(self) -> Mapping[str, Any]:
        """Request parameters (part of the cache key: change them and cached answers no longer apply)."""
        ...

    def prompt(self, item: ItemT_contra) -> Messages:
        """The chat messages that ask about one item."""
        ...

    def parse(self, answer: str) -> VerdictT_co | None:
        """The verdict in an answer, or None when the answer says none."""
        ...


@dataclass
class LLMJudge(Generic[ItemT, VerdictT]):
    """Asks an OpenAI-compatible server one task's question about many items.

    A failed call gives None and is kept in ``failures``; with ``strict`` it stops
    the run instead, with one line.  An answer the task cannot read gives None and
    counts in ``unclear``.
    """

    base_url: str
    model: str
    task: JudgeTask[ItemT, VerdictT]
    cache_path: Path | None = None
    concurrency: int = 8
    strict: bool = False
    name: ClassVar[str] = "llm"
    failures: list[str] = field(default_factory=list)
    unclear: int = 0
    _client: LLMClient | None = field(default=None, repr=False)

    def setup(self) -> None:
        """Open the client, and stop with one line at once when nothing listens at ``base_url``
        (rather than after every call of the first batch has spent its retries)."""
        if self._client is None:
            client = LLMClient(
                self.base_url,
                self.model,
                cache_path=self.cache_path,
                concurrency=self.concurrency,
            )
            client.preflight()
            self._client = client

    def judge(self, items: Sequence[ItemT]) -> list[VerdictT | None]:
        """One verdict per item, in order (None: the call failed or the answer was unclear)."""
        if not items:
            return []
        self.setup()
        assert self._client is not None
        answers = self._client.chat_many(
            [self.task.prompt(item) for item in items], **self.task.sampling
        )
        out: list[VerdictT | None] = []
        for res in answers:
            if isinstance(res, CallFailure):
                if self.strict:
                    raise InstructkitError(
                        f"LLM judge at {self.base_url} failed ({res.kind}): {res.error}"
                    )
                self.failures.append(f"{res.kind}: {res.error}"[:200])
                out.append(None)
                continue
            verdict = self.task.parse(res.text)
            self.unclear += verdict is None
            out.append(verdict)
        return out

    def usage(self) -> dict[str, Any]:
        """The client's counters: calls, cache hits, retries, failures, tokens (empty before any call)."""
        return self._client.usage.as_dict() if self._client else {}

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "unclear": self.unclear,
            "failed": len(self.failures),
            "first_failure": self.failures[0] if self.failures else None,
            **self.usage(),
        }
