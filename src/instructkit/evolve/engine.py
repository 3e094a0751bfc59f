"""The Evol-Instruct loop: every lineage evolves round after round, concurrently, with elimination.

Each seed starts a lineage whose head is the seed.  In round r the head is
evolved with a seeded operation; the child is checked cheaply (template leak,
near-identical text), answered, checked again (refusal in a short response,
stop-words-only response), and finally judged by the LLM against its parent
(equality).  A surviving child becomes an output record and the new head; an
eliminated one becomes a reject with its criterion and the head stays for the
next round.  Lineages are independent, so each runs all its rounds as one
coroutine and the client's concurrency limit stays busy (no barrier between
rounds or phases).  Every call goes through the client's cache, so a rerun
repeats no completed call and — choices being seeded per record and round —
makes the same decisions.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol

from instructkit.accounting import Reject
from instructkit.evolve import elimination as elim
from instructkit.evolve.operations import Templates, call_seed, choose_operation, clean_evolved
from instructkit.llm.client import LLMClient, LLMError
from instructkit.schema import Record

STEP = "evolve"


class EvolveSettings(Protocol):
    """What the loop reads of the ``evolve`` step's config (its defaults live there, once)."""

    rounds: int
    seed: int
    keep_seeds: bool
    respond: bool
    temperature: float
    evolve_max_tokens: int
    max_tokens: int
    similarity: float


@dataclass
class RoundStats:
    evolved: int = 0
    survived: int = 0
    failed_calls: int = 0
    eliminated: Counter[str] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    equality_unclear: int = 0


@dataclass
class Outcome:
    kept: list[Record]
    rejects: list[Reject]
    generated: int
    rounds: dict[int, RoundStats]
    failures: list[dict[str, Any]]


def lineage_keys(seeds: list[Record]) -> list[str]:
    """One unique key per seed: its id, with ``~2``, ``~3``... on repeats of an id.

    Ids are not unique in real data (content-hash ids of exact duplicates); the
    key names the children (``KEY.evolR``) and seeds the draws, so two copies of
    a seed become two lineages rather than one lineage written twice.
    """
    seen: Counter[str] = Counter()
    keys = []
    for s in seeds:
        seen[s["id"]] += 1
        keys.append(s["id"] if seen[s["id"]] == 1 else f"{s['id']}~{seen[s['id']]}")
    return keys


def instruction_of(rec: Record) -> str:
    return next((m["content"] for m in rec["messages"] if m["role"] == "user"), "")


def response_of(rec: Record) -> str | None:
    msgs = rec["messages"]
    first_user = next((i for i, m in enumerate(msgs) if m["role"] == "user"), None)
    if first_user is None:
        return None
    return next((m["content"] for m in msgs[first_user + 1 :] if m["role"] == "assistant"), None)


class Evolver:
    def __init__(self, client: LLMClient, templates: Templates, config: EvolveSettings) -> None:
        self.client = client
        self.templates = templates
        self.config = config
        self.rounds: dict[int, RoundStats] = defaultdict(RoundStats)
        self.failures: list[dict[str, Any]] = []

    def run(self, seeds: list[Record]) -> Outcome:
        return asyncio.run(self._run(seeds))

    async def _run(self, seeds: list[Record]) -> Outcome:
        try:
            keys = lineage_keys(seeds)
            seed_rejects: list[Reject] = []
            per_seed, seed_out = await asyncio.gather(
                asyncio.gather(*(self._lineage(s, k) for s, k in zip(seeds, keys))),
                self._seeds(seeds, keys, seed_rejects),
            )
            kept: list[Record] = list(seed_out)
            rejects: list[Reject] = seed_rejects
            generated = 0
            for children, dropped in per_seed:
                generated += len(children) + len(dropped)
                kept.extend(children)
                rejects.extend(dropped)
            # Outputs by round, then by seed order: stable whatever order the calls finished in.
            kept.sort(key=lambda r: (r.get("lineage") or {}).get("round", 0))
            self.failures.sort(key=lambda f: (f["record"], f["round"], f["phase"]))
            return Outcome(
                kept, rejects, generated, dict(sorted(self.rounds.items())), self.failures
            )
        finally:
            await self.client.aclose()

    async def _seeds(
        self, seeds: list[Record], keys: list[str], rejects: list[Reject]
    ) -> list[Record]:
        """The seeds' fate: kept (answered first under ``--respond`` when they have no response) or dropped."""
        if not self.config.keep_seeds:
            for s in seeds:
                rejects.append(
                    Reject(
                        STEP,
                        "seed_not_kept",
                        "--no-keep-seeds: the seed is not written; its evolutions are",
                        record=s,
                    )
                )
            return []
        if not self.config.respond:
            return list(seeds)
        answered = await asyncio.gather(*(self._answer_seed(s, k) for s, k in zip(seeds, keys)))
        out = []
        for seed, (rec, failure) in zip(seeds, answered):
            if failure:
                rejects.append(
                    Reject(
                        STEP,
                        "llm_failed",
                        f"--respond: answering the instruction failed: {failure}",
                        record=seed,
                    )
                )
            else:
                out.append(rec)
        return out

    async def _answer_seed(self, seed: Record, key: str) -> tuple[Record, str | None]:
        if response_of(seed) is not None:
            return seed, None
        try:
            text = await self._respond(instruction_of(seed), key, 0)
        except LLMError as e:
            self._fail(key, 0, "respond", e)
            return seed, str(e)
        msgs = list(seed["messages"])
        first_user = next(i for i, m in enumerate(msgs) if m["role"] == "user")
        msgs.insert(first_user + 1, {"role": "assistant", "content": text})
        return {**seed, "messages": msgs}, None

    async def _lineage(self, seed: Record, key: str) -> tuple[list[Record], list[Reject]]:
        head = seed
        kept: list[Record] = []
        dropped: list[Reject] = []
        for r in range(1, self.config.rounds + 1):
            child, reject = await self._evolve_once(key, head, r)
            if reject is not None:
                dropped.append(reject)
            elif child is not None:
                kept.append(child)
                head = child
        return kept, dropped

    async def _evolve_once(
        self, seed_id: str, head: Record, r: int
    ) -> tuple[Record | None, Reject | None]:
        cfg, stats = self.config, self.rounds[r]
        op = choose_operation(cfg.seed, seed_id, r)
        parent_text = instruction_of(head)
        sampling = {
            "temperature": cfg.temperature,
            "max_tokens": cfg.evolve_max_tokens,
            "seed": call_seed(cfg.seed, seed_id, r),
        }
        try:
            done = await self.client.chat(
                [{"role": "user", "content": self.templates.evolve_prompt(op, parent_text)}],
                **sampling,
            )
        except LLMError as e:  # no child was made: the head stays, the failure is on record
            self._fail(seed_id, r, "evolve", e)
            stats.failed_calls += 1
            return None, None
        stats.evolved += 1
        stats.operations[op] += 1
        text = clean_evolved(done.text)
        child: Record = {
            "id": f"{seed_id}.evol{r}",
            "source": head["source"],
            "messages": [{"role": "user", "content": text}],
            "meta": {"seed_id": seed_id},
            "lineage": {
                "parent": head["id"],
                "round": r,
                "operation": op,
                "model": self.client.model,
            },
        }
        where = f"round {r} {op} of {head['id']}"

        def reject(reason: str, detail: str) -> tuple[None, Reject]:
            stats.eliminated[reason] += 1
            return None, Reject(STEP, reason, f"{where}: {detail}", record=child)

        if not text:
            return reject("no_information_gain", "the model returned an empty instruction")
        if leak := elim.template_leak(text):
            return reject(
                "template_leak", f"the evolved instruction contains the template words '{leak}'"
            )
        sim = elim.token_similarity(text, parent_text)
        if sim >= cfg.similarity:
            return reject(
                "no_information_gain",
                f"the evolved instruction is {sim:.0%} the same words as its parent (>= {cfg.similarity:.0%})",
            )
        try:
            answer = await self._respond(text, seed_id, r)
        except LLMError as e:
            self._fail(seed_id, r, "respond", e)
            return reject("llm_failed", f"answering the evolved instruction failed: {e}")
        child["messages"].append({"role": "assistant", "content": answer})
        if elim.stopwords_only(answer):
            return reject("stopword_response", "the response is only punctuation and stop words")
        if phrase := elim.struggled(answer):
            return reject(
                "model_struggled",
                f"the short response ({len(answer.split())} words) says '{phrase}'",
            )
        try:
            verdict = await self.client.chat(
                [{"role": "user", "content": self.templates.equality_prompt(parent_text, text)}],
                temperature=0.0, max_tokens=8,
            )  # fmt: skip
        except LLMError as e:
            self._fail(seed_id, r, "equality", e)
            return reject("llm_failed", f"the equality check failed: {e}")
        same = elim.parse_equality(verdict.text)
        if same:
            return reject(
                "no_information_gain",
                f"the LLM judged it equal to its parent (answer: {verdict.text.strip()[:40]!r})",
            )
        if same is None:  # an unclear verdict is not evidence of equality: keep, and count it
            stats.equality_unclear += 1
        stats.survived += 1
        return child, None

    async def _respond(self, instruction: str, seed_id: str, r: int) -> str:
        cfg = self.config
        done = await self.client.chat(
            [{"role": "user", "content": instruction}],
            temperature=cfg.temperature, max_tokens=cfg.max_tokens, seed=call_seed(cfg.seed, seed_id, r),
        )  # fmt: skip
        return done.text.strip()

    def _fail(self, record_id: str, r: int, phase: str, e: LLMError) -> None:
        self.failures.append(
            {"record": record_id, "round": r, "phase": phase, "kind": e.kind, "error": str(e)}
        )
