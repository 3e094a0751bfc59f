"""The whole clean step decides the same with and without Hyperscan (its gates only skip work).

Records are built from pieces of refusals, GPT-isms, fillers, PII and look-alike
letters, mixed with random text; the step runs with both gates (refusal rules and
PII patterns) and again with Hyperscan switched off, and the kept records,
rejects and rule counts must be equal.
"""

from __future__ import annotations

import random

import pytest

from instructkit.clean import pii, prescan
from instructkit.schema import to_records, to_table
from instructkit.steps.clean import CleanStep

pytestmark = pytest.mark.slow  # two Presidio engines

PIECES = [
    "I'm sorry, but I cannot help with that. ",
    "As an AI language model, I don't have feelings, but ",
    "Certainly! ",
    "I hope this helps!",
    "\n\nLet me know if you have any questions.",
    "It's important to note that ",
    "Unfortunately, I do not have access to the internet. ",
    "Could you please clarify what you mean? ",
    "İ'm ſorry, but İ can't. ",
    "Write to maria.keller@posteo.de or call +44 20 7946 0018. ",
    "He lives at 742 Evergreen Terrace, Springfield. ",
    "key = sk-proj-4fG7hJ2kL9mN3pQ8rS1tU6vW0xY5zA ",
    "ssh into 81.169.145.92 as root. ",
    "IBAN DE89 3704 0044 0532 0130 00 please. ",
    "| 2020-02-01 00:18:53.000 | 22.455 -31.270 |\n",
    "```python\nprint(1)\n```\n",
    "Plants turn light into sugar. ",
    "straße ",
    "\u200b",
]


def _records(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)

    def text() -> str:
        parts = rng.choices(PIECES, k=rng.randint(1, 5))
        noise = "".join(rng.choice("abc xyz.,!?\n0123456789") for _ in range(rng.randint(0, 30)))
        return "".join(parts) + noise + "."

    out = []
    for i in range(n):
        turns = []
        for _ in range(rng.randint(1, 3)):
            turns += [{"role": "user", "content": text()}, {"role": "assistant", "content": text()}]
        out.append({"id": f"r{i}", "source": "test", "messages": turns, "meta": {}})
    return out


def _clean(records: list[dict]) -> tuple[list[dict], list[tuple[str, str, str]], dict]:
    step = CleanStep(profile="fast")
    result = step.process(to_table(records))
    rejects = [(r.reason, r.detail, r.record["id"]) for r in result.rejects]
    return to_records(result.kept), rejects, result.stats


def test_hyperscan_gates_change_no_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("hyperscan")
    records = _records(80, seed=15)
    pii.cached_detector.cache_clear()
    with_gates = _clean(records)
    monkeypatch.setattr(prescan, "_hyperscan", None)
    pii.cached_detector.cache_clear()
    try:
        without = _clean(records)
    finally:
        pii.cached_detector.cache_clear()
    assert with_gates == without
    kept, rejects, stats = with_gates
    reasons = {r[0] for r in rejects}
    assert {"refusal", "gptism"} <= reasons  # the pieces do reach the rules
    assert any(k.startswith("pii:") for k in stats["rules"])
