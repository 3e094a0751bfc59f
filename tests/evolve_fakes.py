"""A deterministic fake LLM for Evol-Instruct tests: it recognises the three kinds of prompt.

Markers in a seed steer the outcome, and survive into the children because an
evolution appends to its parent: ``LEAK`` (the rewrite leaks a template label),
``SAME`` (the rewrite is the parent unchanged), ``HARD`` (the answer is an
apology), ``STOP`` (the answer is stop words only), ``JUDGE`` (the equality
judge says "Equal").
"""

from __future__ import annotations

import hashlib
from typing import Any

SEEDS = [
    "List three fruits.",
    "Explain gravity to a child.",
    "Write a haiku about rain.",
    "Name the planets.",
    "Give a synonym for quick.",
    "Describe a cat.",
]
MARKED = ["LEAK: name a colour.", "SAME: name a river.", "HARD: prove the Riemann hypothesis.",
          "STOP: say something.", "JUDGE: name a bird."]  # fmt: skip


def evolve_responder(messages: list[dict[str, str]], body: dict[str, Any]) -> str:
    prompt = messages[-1]["content"]
    if "#Given Prompt#:\n" in prompt:
        given = prompt.split("#Given Prompt#:\n", 1)[1].split("\n\n#", 1)[0]
        if "LEAK" in given:
            return f"#Rewritten Prompt#: {given} in detail"
        if "SAME" in given:
            return given
        tag = hashlib.sha256(
            f"{prompt}|{body.get('seed')}".encode()
        ).hexdigest()  # like a sampler honouring seed
        terms = ", ".join(
            f"factor{tag[i : i + 4]}" for i in range(0, 32, 4)
        )  # new words each round
        return f"{given} Weigh {terms}."
    if "First instruction:" in prompt:
        return "Equal" if "JUDGE" in prompt else "Different"
    if "HARD" in prompt:
        return "Sorry, I cannot help with that."
    if "STOP" in prompt:
        return "It is what it is, and so on."
    return f"A careful answer: {prompt[:80]}"


def write_seeds(path: Any, instructions: list[str], with_output: bool = True) -> None:
    import json

    with open(path, "w") as fh:
        for text in instructions:
            row = (
                {"instruction": text, "input": "", "output": "A seed answer."}
                if with_output
                else {"prompt": text}
            )
            fh.write(json.dumps(row) + "\n")
