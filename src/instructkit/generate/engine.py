"""The Self-Instruct loop: a pool of tasks that grows round by round from the seeds.

Each round sends ``requests_per_round`` bootstrap requests at once (each shows
the model ``in_context`` tasks, up to ``in_context_generated`` of them made
earlier in the run, the rest seeds), then reads their candidates in a fixed
order (request, then position in the answer): each passes the rule filters
and the ROUGE-L novelty check against the pool as it stands, which includes
the candidates kept just before it, or becomes a reject naming its filter.
Kept instructions join the pool; unless ``respond`` is off, they are then
classified (the model is asked, as the method does) and given an instance,
output first for classification tasks, in order and no more of them than
records are still missing (the rest are ``surplus``).  Rounds go on until
``n`` records are made or ``max_requests`` is spent.

The pool grows, so the loop is sequential by nature; the requests of a round
run concurrently, and every call goes through the client's cache with prompts
and sampling seeds that depend only on (seed, round, request) and the pool,
so a rerun after a crash repeats no completed call and decides the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from instructkit.accounting import Reject
from instructkit.errors import InstructkitError
from instructkit.formats.base import join_input
from instructkit.generate.filters import Verdict, rule_verdict, similarity_verdict
from instructkit.generate.parse import parse_classification, parse_instances, parse_instructions
from instructkit.generate.prompts import (
    Task,
    Templates,
    call_seed,
    in_context,
    open_ended,
    request_rng,
)
from instructkit.generate.rouge import RougeIndex
from instructkit.llm.client import Completion, LLMClient, LLMError
from instructkit.schema import Record

STEP = "generate"
METHOD = "self_instruct"
#: The classification answer is a Yes or a No; a few more tokens let a chatty model say it
#: ("The answer is: No") without paying for an essay.
CLASSIFY_MAX_TOKENS = 16


class GenerateSettings(Protocol):
    """What the loop reads of the ``generate`` step's config (its defaults live there, once)."""

    n: int
    seed: int
    in_context: int
    in_context_generated: int
    requests_per_round: int
    max_requests: int | None
    respond: bool
    similarity: float
    temperature: float
    top_p: float
    instruction_max_tokens: int
    max_tokens: int


@dataclass
class Outcome:
    kept: list[Record]
    rejects: list[Reject]
    generated: int
    stats: dict[str, Any]


@dataclass
class _Tally:
    rounds: int = 0
    requests: int = 0
    candidates: int = 0
    instructions_kept: int = 0
    truncated_answers: int = 0
    classification: Counter[str] = field(default_factory=Counter)
    seconds: Counter[str] = field(default_factory=Counter)
    instances: Counter[str] = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)


def instruction_of(rec: Record) -> str:
    """A seed's instruction: its first user turn without the input the reader appended to it."""
    text = next((m["content"] for m in rec["messages"] if m["role"] == "user"), "")
    inp = (rec.get("meta") or {}).get("input")
    if isinstance(inp, str) and inp.strip() and text.endswith("\n\n" + inp):
        text = text[: -len(inp) - 2]
    return text.strip()


def seed_tasks(seeds: list[Record]) -> list[Task]:
    """One task per distinct instruction (a seed task with several instances is several records)."""
    seen: set[str] = set()
    tasks = []
    for rec in seeds:
        text = instruction_of(rec)
        if text and text not in seen:
            seen.add(text)
            tasks.append(Task(str((rec.get("meta") or {}).get("id") or rec["id"]), text))
    return tasks


class SelfInstruct:
    def __init__(self, client: LLMClient, templates: Templates, config: GenerateSettings) -> None:
        self.client = client
        self.templates = templates
        self.config = config
        self.tally = _Tally()

    def run(self, seeds: list[Record]) -> Outcome:
        return asyncio.run(self._run(seeds))

    async def _run(self, seeds: list[Record]) -> Outcome:
        try:
            return await self._loop(seed_tasks(seeds))
        finally:
            await self.client.aclose()

    async def _loop(self, seeds: list[Task]) -> Outcome:
        cfg, tally = self.config, self.tally
        if not seeds:
            raise InstructkitError("generate: the input has no instruction to seed the pool with")
        budget = cfg.max_requests if cfg.max_requests is not None else 20 * cfg.n
        index = RougeIndex(cfg.similarity)
        pool: list[Task] = []
        for task in seeds:
            index.add(task.instruction)
            pool.append(task)
        made: list[Task] = []
        kept: list[Record] = []
        rejects: list[Reject] = []
        generated = 0
        while len(kept) < cfg.n and tally.requests < budget:
            tally.rounds += 1
            r = tally.rounds
            count = min(cfg.requests_per_round, budget - tally.requests)
            shown = [
                in_context(seeds, made, cfg.in_context, cfg.in_context_generated, request_rng(cfg.seed, r, q))
                for q in range(count)
            ]  # fmt: skip
            asked = time.perf_counter()
            answers = await asyncio.gather(
                *(self._bootstrap(tasks, r, q) for q, tasks in enumerate(shown))
            )
            tally.requests += count
            tally.seconds["bootstrap"] += time.perf_counter() - asked
            started = time.perf_counter()
            # Without instances every kept instruction is a record: read no further than needed.
            # With them, keep every candidate that passes (an instance may still fail).
            need = cfg.n - len(kept) if not cfg.respond else None
            fresh: list[Record] = []
            for q, (tasks, answer) in enumerate(zip(shown, answers)):
                if answer is None:
                    continue
                truncated = answer.completion_tokens >= cfg.instruction_max_tokens
                tally.truncated_answers += truncated
                prompt = self.templates.instructions(tasks)
                items = parse_instructions(answer.text, truncated, open_ended(prompt))
                for i, text in enumerate(items):
                    generated += 1
                    tally.candidates += 1
                    rec = self._candidate(text, [t.id for t in tasks], r, q, i)
                    if need is not None and len(fresh) >= need:
                        detail = (
                            f"the run had its {cfg.n} instructions before this candidate was read"
                        )
                        rejects.append(Reject(STEP, "surplus", detail, record=rec))
                        continue
                    verdict = rule_verdict(text) or self._novelty(index, pool, text)
                    if verdict is not None:
                        rejects.append(
                            Reject(STEP, verdict.reason, f"round {r}: {verdict.detail}", record=rec)
                        )
                        continue
                    index.add(text)
                    pool.append(Task(rec["id"], text))
                    made.append(pool[-1])
                    fresh.append(rec)
            tally.seconds["filter"] += time.perf_counter() - started
            tally.instructions_kept += len(fresh)
            if not cfg.respond:
                kept.extend(fresh)
                continue
            started = time.perf_counter()
            await self._instances(fresh, r, kept, rejects)
            tally.seconds["instances"] += time.perf_counter() - started
        return Outcome(kept, rejects, generated, self._stats(len(kept), len(pool)))

    def _novelty(self, index: RougeIndex, pool: list[Task], text: str) -> Verdict | None:
        near = index.nearest(text)
        if near is None:
            return None
        task = pool[near.row]
        return similarity_verdict(near.score, self.config.similarity, task.id, task.instruction)

    def _candidate(self, text: str, shown: list[str], r: int, q: int, i: int) -> Record:
        return {
            "id": f"si-r{r}-q{q}-{i}",
            "source": METHOD,
            "messages": [{"role": "user", "content": text}],
            "meta": {"instruction": text},
            "lineage": {
                "method": METHOD,
                "in_context": shown,
                "round": r,
                "model": self.client.model,
            },
        }

    async def _bootstrap(self, tasks: list[Task], r: int, q: int) -> Completion | None:
        cfg = self.config
        try:
            return await self.client.chat(
                [{"role": "user", "content": self.templates.instructions(tasks)}],
                temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.instruction_max_tokens,
                seed=call_seed(cfg.seed, "bootstrap", r, q),
            )  # fmt: skip
        except LLMError as e:
            self._fail(f"round {r} request {q}", "bootstrap", e)
            return None

    async def _instances(
        self, fresh: list[Record], r: int, kept: list[Record], rejects: list[Reject]
    ) -> None:
        """Instances for a round's kept instructions, in their order, no more than the run needs.

        They are asked in windows of as many instructions as records are still
        missing, so a failed instance is made up for by the next instruction
        rather than by a new round, and none is asked for once ``n`` records
        are made; the instructions left then are ``surplus``.  The windows
        depend only on earlier answers, so a rerun asks the same calls.
        """
        queue = list(fresh)
        while queue and len(kept) < self.config.n:
            window, queue = queue[: self.config.n - len(kept)], queue[self.config.n - len(kept) :]
            for rec, reject in await asyncio.gather(*(self._instance(rec, r) for rec in window)):
                if reject is not None:
                    rejects.append(reject)
                else:
                    kept.append(rec)
        for rec in queue:
            self.tally.instances["surplus"] += 1
            detail = f"round {r}: the run had its {self.config.n} records before an instance was asked for this instruction"
            rejects.append(Reject(STEP, "surplus", detail, record=rec))

    async def _instance(self, rec: Record, r: int) -> tuple[Record, Reject | None]:
        """Classify the instruction, then ask for an instance (output first for classification).

        An input-first example whose output is missing or unusable, but whose
        input is fine, gets its output from the model answering the
        instruction with that input (one more call): a small model often
        writes the input and stops.
        """
        text, tally = rec["meta"]["instruction"], self.tally
        try:
            verdict = await self.client.chat(
                self.templates.classify(text), temperature=0.0, max_tokens=CLASSIFY_MAX_TOKENS
            )  # fmt: skip
            is_clf = parse_classification(verdict.text)
        except LLMError as e:
            self._fail(rec["id"], "classify", e)
            is_clf = None
        tally.classification[{True: "yes", False: "no", None: "unclear"}[is_clf]] += 1
        rec["meta"]["is_classification"] = is_clf
        prompt = self.templates.instances(text, is_clf is True)
        shown = "\n".join(m["content"] for m in prompt)
        try:
            done = await self.client.chat(
                prompt, temperature=0.0, max_tokens=self.config.max_tokens
            )  # fmt: skip
        except LLMError as e:
            return rec, self._failed(rec, r, "instances", e)
        pairs = parse_instances(done.text, is_clf is True)
        found = [(i, o) for i, o in pairs if o is not None and usable(text, i, o, shown)]
        source = "example"
        if not found and not is_clf:
            inp = next((i for i, _ in pairs if usable_input(i, shown)), None)
            if inp is not None:
                try:
                    answer = await self.client.chat(
                        self.templates.respond(text, inp),
                        temperature=0.0, max_tokens=self.config.max_tokens,
                    )  # fmt: skip
                except LLMError as e:
                    return rec, self._failed(rec, r, "respond", e)
                if usable(text, inp, answer.text.strip(), shown):
                    found, source = [(inp, answer.text.strip())], "respond"
        if not found:
            tally.instances["no_instance"] += 1
            said = done.text.strip()[:160]
            detail = f"round {r}: no usable {'class label/input' if is_clf else 'input/output'} example in the answer {said!r}"
            return rec, Reject(STEP, "no_instance", detail, record=rec)
        tally.instances[source] += 1
        inp, out = found[0]
        rec["messages"] = [
            {"role": "user", "content": join_input(text, inp)},
            {"role": "assistant", "content": out},
        ]
        rec["meta"] |= {
            "input": inp,
            "output_from": source,
            "instances": [{"input": i, "output": o} for i, o in found],
        }
        return rec, None

    def _failed(self, rec: Record, r: int, phase: str, e: LLMError) -> Reject:
        self._fail(rec["id"], phase, e)
        self.tally.instances["llm_failed"] += 1
        return Reject(STEP, "llm_failed", f"round {r}: the {phase} call failed: {e}", record=rec)

    def _fail(self, where: str, phase: str, e: LLMError) -> None:
        self.tally.failures.append(
            {"where": where, "phase": phase, "kind": e.kind, "error": str(e)}
        )

    def _stats(self, records: int, pool: int) -> dict[str, Any]:
        t, cfg = self.tally, self.config
        stats: dict[str, Any] = {
            "target": cfg.n,
            "records_made": records,
            "rounds_run": t.rounds,
            "requests": t.requests,
            "candidates": t.candidates,
            "instructions_kept": t.instructions_kept,
            "truncated_answers": t.truncated_answers,
            "pool_size": pool,
            "phase_seconds": {k: round(v, 3) for k, v in sorted(t.seconds.items())},
            "failed_calls": t.failures,
        }
        if cfg.respond:
            stats["classification"] = dict(sorted(t.classification.items()))
            stats["instances"] = dict(sorted(t.instances.items()))
        if records < cfg.n:
            stats["shortfall"] = (
                f"made {records} of {cfg.n}: max-requests ({t.requests}) spent; raise it or use a stronger model"
            )
        return stats


def copied(text: str, prompt: str) -> bool:
    """Five words or more found verbatim in the prompt's demonstrations (small models copy them)."""
    t = text.strip()
    return len(t.split()) >= 5 and t in prompt


def usable_input(inp: str, prompt: str) -> bool:
    """An input is usable unless it is a demonstration's (it belongs to another task)."""
    return not copied(inp, prompt)


def usable(instruction: str, inp: str, out: str, prompt: str) -> bool:
    """An instance is kept unless its output is empty, repeats the input or the instruction, or
    either side is copied from the prompt's demonstrations."""
    o = out.strip()
    return (
        bool(o)
        and o != inp.strip()
        and o != instruction.strip()
        and not copied(o, prompt)
        and usable_input(inp, prompt)
    )
