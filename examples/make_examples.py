"""Write the bundled example data: a few dozen records per format, with deliberate quirks.

Every text here was written for instructkit.  Run from the project root:
``python examples/make_examples.py`` (the output is committed under examples/data).
"""

from __future__ import annotations

import csv
import gzip
import json
import random
from pathlib import Path

OUT = Path(__file__).parent / "data"

QA = [
    (
        "Name three primary colours.",
        "",
        "Red, yellow and blue are the traditional primary colours.",
    ),
    (
        "Convert the temperature to Fahrenheit.",
        "25 degrees Celsius",
        "25 °C is 77 °F: multiply by 9/5 and add 32.",
    ),
    (
        "Summarise the paragraph in one sentence.",
        "Bees visit flowers to collect nectar. While they do, pollen sticks to their bodies and is carried to the next flower, which lets plants reproduce.",
        "Bees pollinate plants by carrying pollen between the flowers they feed on.",
    ),
    (
        "Write a haiku about autumn rain.",
        "",
        "Grey rain on red leaves\nthe gutter hums a low song\nsummer drains away",
    ),
    ("What is the capital of Australia?", "", "The capital of Australia is Canberra."),
    ("Sort these numbers in ascending order.", "42, 7, 19, 3, 88", "3, 7, 19, 42, 88"),
    (
        "Explain what a hash table is to a beginner.",
        "",
        "A hash table stores values under keys. A hash function turns each key into a slot number, so finding a value takes about the same time however many items are stored.",
    ),
    (
        "Translate the sentence into French.",
        "The library opens at nine.",
        "La bibliothèque ouvre à neuf heures.",
    ),
    (
        "Give two tips for a job interview.",
        "<noinput>",
        "Research the company beforehand, and prepare a short story that shows how you solved a real problem.",
    ),
    (
        "Write a Python function that reverses a string.",
        "No input.",
        "def reverse(s: str) -> str:\n    return s[::-1]",
    ),
    (
        "Classify the sentiment of the review.",
        "The soup was cold and the waiter ignored us.",
        "Negative.",
    ),
    (
        "Tell me how to pick a lock on my neighbour's door.",
        "",
        "As an AI language model, I cannot help with entering someone else's home without permission.",
    ),
    (
        "Suggest a name for a bakery.",
        "",
        'Certainly! Here\'s a suggestion: "The Rising Loaf". I hope this helps!',
    ),
    ("How many minutes are in a day?", "", "There are 24 × 60 = 1,440 minutes in a day."),
    (
        "Email my landlord about the broken heater.",
        "My name is Jane Roe, reach me at jane.roe@example.org or +1 415 555 0134.",
        "Dear landlord,\n\nThe heater in my flat has stopped working. Could you arrange a repair this week? You can reach me at jane.roe@example.org or +1 415 555 0134.\n\nBest regards,\nJane Roe",
    ),
    (
        "Name three primary colours.",
        "",
        "Red, yellow and blue are the traditional primary colours.",
    ),
    (
        "Describe the water cycle.",
        "",
        "Water evaporates, condenses into clouds, falls as precipitation and flows back to seas and lakes, where the cycle starts again.",
    ),
    (
        "What does HTTP status 404 mean?",
        "",
        "404 Not Found: the server has no resource at the requested address.",
    ),
    (
        "Rewrite the sentence in the passive voice.",
        "The committee approved the budget.",
        "The budget was approved by the committee.",
    ),
    ("List the planets closer to the Sun than Earth.", "", "Mercury and Venus."),
    ("Compute the area of a circle with radius 3.", "", "The area is π × 3² ≈ 28.27 square units."),
    ("Give an antonym for 'generous'.", "", "Stingy."),
    (
        "Why is the sky blue?",
        "",
        "Air molecules scatter short blue wavelengths of sunlight much more than red ones (Rayleigh scattering), so blue light reaches our eyes from every direction.",
    ),
    (
        "Write a SQL query that counts the rows of the orders table.",
        "",
        "SELECT COUNT(*) FROM orders;",
    ),
    (
        "Explain recursion in one sentence.",
        "",
        "Recursion is when a function solves a problem by calling itself on smaller versions of the same problem.",
    ),
]

CHATS = [
    [
        ("human", "Can you help me plan a three-day trip to Lisbon?"),
        (
            "gpt",
            "Day 1: Alfama and the castle. Day 2: Belém and its tower. Day 3: a day trip to Sintra.",
        ),
        ("human", "Which day is best for the tram 28?"),
        ("gpt", "Day 1: it runs through Alfama, so ride it on the way up to the castle."),
    ],
    [
        ("human", "What's the difference between a list and a tuple in Python?"),
        ("gpt", "Lists are mutable, tuples are immutable; tuples can be dictionary keys."),
    ],
    [
        ("system", "You are a concise assistant."),
        ("user", "Define entropy."),
        ("assistant", "A measure of disorder, or of the uncertainty of a random variable."),
    ],
    [
        ("human", "Write a limerick about a cat."),
        (
            "chatgpt",
            "A cat with a taste for the cream\nwould plot and would patiently scheme;\nshe'd wait by the jug\nwith a satisfied shrug,\nthen vanish like milk in a dream.",
        ),
    ],
    [
        ("human", "I'm sorry to bother you, but how do I boil an egg?"),
        ("bard", "Put the egg in boiling water for 7 minutes, then cool it in cold water."),
    ],
    [
        ("gpt", "…and that is why the bridge was built of stone."),
        ("human", "Interesting. What about the second bridge?"),
        ("gpt", "The second one was iron, built in 1880."),
    ],
    [],
    [("human", "Tell me a joke."), ("gpt", "")],
    [("human", "Hello"), ("human", "Are you there?"), ("gpt", "Yes, how can I help?")],
    [
        ("human", "My API key is sk-abcdefghijklmnopqrstuvwxyz123456, why does it fail?"),
        (
            "gpt",
            "Never share keys. Revoke that key and create a new one; a 401 error usually means the key is invalid.",
        ),
    ],
    [
        ("human", "Call the weather tool for Paris."),
        ("function_call", '{"name": "weather", "arguments": {"city": "Paris"}}'),
        ("observation", '{"temp_c": 14}'),
        ("gpt", "It is 14 °C in Paris."),
    ],
    [
        ("human", "Is it safe to eat raw cookie dough?"),
        (
            "gpt",
            "As an AI, I'm not able to give medical advice. However, raw flour and eggs can carry bacteria, so it is safer not to.",
        ),
    ],
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    # Alpaca JSONL: empty and placeholder inputs, an exact duplicate, a broken line, a missing field.
    with open(OUT / "alpaca.jsonl", "w", encoding="utf-8") as f:
        for ins, inp, out in QA:
            f.write(
                json.dumps({"instruction": ins, "input": inp, "output": out}, ensure_ascii=False)
                + "\n"
            )
        f.write('{"instruction": "This line is cut off", "input": "\n')
        f.write(json.dumps({"instruction": "A row without an output field or input"}) + "\n")
        f.write(
            json.dumps(
                {
                    "instruction": "Greet the user.",
                    "input": "",
                    "output": "Hello!",
                    "system": "Be brief.",
                    "history": [["Hi", "Hi there."]],
                }
            )
            + "\n"
        )
    # ShareGPT as a JSON array (one object per conversation), mixed role labels, broken rows.
    rows = [
        {"id": f"chat{i}_0", "conversations": [{"from": r, "value": v} for r, v in c]}
        for i, c in enumerate(CHATS)
    ]
    rows[2]["conversations"] = [{"role": r, "content": v} for r, v in CHATS[2]]
    (OUT / "sharegpt.json").write_text(
        json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    # Dolly as CSV.
    cats = ["open_qa", "classification", "summarization", "creative_writing", "brainstorming"]
    with open(OUT / "dolly.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["instruction", "context", "response", "category"])
        w.writeheader()
        for ins, inp, out in QA[:20]:
            w.writerow(
                {
                    "instruction": ins,
                    "context": "" if inp in ("<noinput>", "No input.") else inp,
                    "response": out,
                    "category": rng.choice(cats),
                }
            )
    # OpenAI messages, gzip-compressed; content as a string or a list of parts.
    with gzip.open(OUT / "openai.jsonl.gz", "wt", encoding="utf-8") as f:
        for k, (ins, inp, out) in enumerate(QA[:20]):
            user = ins + ("\n\n" + inp if inp else "")
            content = [{"type": "text", "text": user}] if k % 3 == 0 else user
            msgs = [{"role": "system", "content": "You are helpful."}] if k % 4 == 0 else []
            msgs += [{"role": "user", "content": content}, {"role": "assistant", "content": out}]
            f.write(json.dumps({"messages": msgs, "label": k % 2 == 0}, ensure_ascii=False) + "\n")
    # LIMA: alternating strings.
    with open(OUT / "lima.jsonl", "w", encoding="utf-8") as f:
        for c in CHATS[:6]:
            turns = [v for r, v in c if r not in ("system",)]
            if turns:
                f.write(
                    json.dumps(
                        {"conversations": turns, "source": "written-for-instructkit"},
                        ensure_ascii=False,
                    )
                    + "\n"
                )
    # OpenAssistant trees: a prompt with two answers, one with a follow-up; one deleted branch.
    tree = {
        "message_tree_id": "tree-1",
        "tree_state": "ready_for_export",
        "prompt": {
            "message_id": "m1",
            "role": "prompter",
            "text": "How do I keep basil alive indoors?",
            "lang": "en",
            "replies": [
                {
                    "message_id": "m2",
                    "role": "assistant",
                    "text": "Give it six hours of sun, water when the top soil is dry, and pinch off flowers.",
                    "lang": "en",
                    "replies": [
                        {
                            "message_id": "m4",
                            "role": "prompter",
                            "text": "Why pinch the flowers?",
                            "lang": "en",
                            "replies": [
                                {
                                    "message_id": "m5",
                                    "role": "assistant",
                                    "text": "Flowering makes the plant put energy into seeds and the leaves turn bitter.",
                                    "lang": "en",
                                }
                            ],
                        }
                    ],
                },
                {
                    "message_id": "m3",
                    "role": "assistant",
                    "text": "Keep it on a sunny windowsill.",
                    "lang": "en",
                },
                {"message_id": "m6", "role": "assistant", "text": "spam", "deleted": True},
            ],
        },
    }
    (OUT / "oasst_trees.jsonl").write_text(json.dumps(tree) + "\n", encoding="utf-8")
    # WizardLM test-set shape: instructions with difficulty labels, no responses.
    with open(OUT / "evol_testset.jsonl", "w", encoding="utf-8") as f:
        for i, (ins, _, _) in enumerate(QA[:10], 1):
            f.write(
                json.dumps(
                    {"idx": i, "Skill": "general", "Difficulty": 1 + i % 9, "Instruction": ins}
                )
                + "\n"
            )


if __name__ == "__main__":
    main()
