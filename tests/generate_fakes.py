"""A deterministic fake LLM for Self-Instruct tests: it recognises the three kinds of prompt.

Every bootstrap answer breaks each filter once, beside fresh instructions made
from a hash of the prompt (new words every request, so they pass novelty):
a copy of an in-context task (too_similar), a short one, a long one, one with
an unsuitable word, "Write a program", a punctuation start and a non-ASCII
start, inside the chatter small models add (a preamble, a closing line).
Instructions with "Classify" are classification tasks; with "Mystery" the
instance answer has no usable example; with "Riddle" it has an input and no
output (the step then asks for the output on its own).  Answers are cut to the
call's ``max_tokens`` words, as a server cuts them.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

SEEDS = [
    ("Give three tips for staying healthy in winter.", False),
    ("Classify the sentiment of the review as positive or negative.", True),
    ("Translate the sentence into French.", False),
    ("Write a limerick about a forgetful cat.", False),
    ("Is the number even or odd?", True),
    ("Summarize the paragraph in one sentence.", False),
    ("Explain how rainbows form to a ten year old.", False),
    ("Suggest a name for a new coffee shop by the sea.", False),
    ("Decide whether the statement is a fact or an opinion.", True),
    ("List the steps to change a flat bicycle tyre.", False),
]

BREAKERS = [
    "Hi there friend",  # too_short
    "Describe " + " ".join(["very"] * 150) + " long things",  # too_long
    "Draw a picture of a dragon guarding its gold.",  # unsuitable_task
    "Write a program that prints the first ten primes.",  # write_a_program
    "(Optional) recommend a book for a long train ride.",  # starts_with_punctuation
    "Écrivez a short note to thank a teacher for the year.",  # starts_non_ascii
]


def words_from(tag: str, k: int) -> str:
    return " ".join(f"w{tag[i : i + 5]}" for i in range(0, 5 * k, 5))


def bootstrap_answer(prompt: str, body: dict[str, Any]) -> str:
    tag = hashlib.sha256(f"{prompt}|{body.get('seed')}".encode()).hexdigest()
    shown = re.findall(r"^\d+\. (.+)$", prompt, re.MULTILINE)
    fresh = [
        f"Compare the ideas {words_from(tag[:25], 5)} in a short essay.",
        f"Classify each of {words_from(tag[25:50], 5)} as animal or plant.",
        f"Riddle about {words_from(hashlib.sha256(tag.encode()).hexdigest(), 4)} to solve.",
        f"Mystery task about {words_from(tag[50:], 2)} for the reader.",
    ]
    items = [fresh[0], shown[0], *BREAKERS, *fresh[1:]]
    listed = "\n".join(f"{n}. {text}" for n, text in enumerate(items, len(shown) + 1))
    return f"Sure! Here are some new tasks.\n{listed}\n\nI hope these tasks are useful!"


def instance_answer(first: str, prompt: str) -> str:
    task = prompt.rsplit("Task: ", 1)[1].strip()
    if "Mystery" in task:
        return "I am not sure what to write here."
    if "Riddle" in task:  # an input and no output, as small models write
        return "Input: What has keys but cannot open locks?"
    if first.startswith("Given a classification task"):
        return "Class label: Animal\nInput: A small grey creature that squeaks.\nTask: invented"
    return f"Input: None\nOutput: A fine answer to '{task[:40]}'."


def self_instruct_responder(messages: list[dict[str, str]], body: dict[str, Any]) -> str:
    """The answer a call gets, cut to ``max_tokens`` words as a server cuts it."""
    words = answer(messages, body).split(" ")
    limit = body.get("max_tokens") or len(words)
    return " ".join(words[:limit])


def answer(messages: list[dict[str, str]], body: dict[str, Any]) -> str:
    first, prompt = messages[0]["content"], messages[-1]["content"]
    if first.startswith("Here are ") and "new tasks" in first:
        return bootstrap_answer(prompt, body)
    if first.startswith("Can the following task be regarded as a classification task"):
        task = prompt.rsplit("Task: ", 1)[1]
        return "Yes" if ("Classify" in task or "even or odd" in task) else "No"
    if "Task: " in prompt:
        return instance_answer(first, prompt)
    return f"A direct answer to: {prompt[:60]}"


def write_seed_tasks(path: Any, seeds: list[tuple[str, bool]] = SEEDS) -> None:
    """Seed tasks in the Self-Instruct format (``{id, instruction, instances, is_classification}``)."""
    with open(path, "w") as fh:
        for k, (text, clf) in enumerate(seeds):
            row = {
                "id": f"seed_task_{k}",
                "instruction": text,
                "instances": [{"input": "", "output": "A seed answer."}],
                "is_classification": clf,
            }
            fh.write(json.dumps(row) + "\n")
