"""A small demo run directory in the spec's layout, made by the real steps (clean, dedup,
decontaminate, score) through the local engine, with records whose text is hostile markup.

Until ``instructkit run`` lands, this lays out ``NN-STEP/data.parquet`` + sidecars,
``summary.json`` (the funnel: one entry per step) and ``recipe.yaml`` itself.  The select
step does not exist yet either: ``05-select`` holds a selection written here in the
spec's ``STEM.selection.jsonl`` format (the longest responses), so the report's
selection section has input.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import yaml

from instructkit.engines import local
from instructkit.steps import get_step
from tests.helpers import write_jsonl

#: Markup a record may hold; each would set window.__pwned (or fetch) if it ever ran.
PAYLOADS = [
    "<script>window.__pwned = 1</script>",
    '<img src=x onerror="window.__pwned = 2">',
    '<a href="javascript:window.__pwned = 3">click me</a>',
    "</style><script>window.__pwned = 4</script>",
    '</textarea><svg onload="window.__pwned = 5"></svg>',
    '<iframe src="https://example.com/frame"></iframe>',
    "<!-- </script> --><script>window.__pwned = 6</script>",
    '<link rel="stylesheet" href="https://example.com/x.css">',
    "<style>body{background:url(https://example.com/bg.png)}</style>",
    "{{ 7 * 7 }} {% raw %} ${7*7}",
]
#: A source name that is itself markup (it reaches chart legends and table cells).
HOSTILE_SOURCE = '<img src=x onerror="window.__pwned = 7">'

TOPICS = [
    "photosynthesis", "the French revolution", "binary search", "compound interest", "volcanoes",
    "the water cycle", "prime numbers", "machine translation", "tidal forces", "the printing press",
    "bread baking", "plate tectonics", "vaccines", "recursion", "the stock market", "bird migration",
    "solar panels", "the Roman empire", "jazz music", "climate models",
]  # fmt: skip


def _alpaca_rows() -> list[dict]:
    rows = [
        {
            "instruction": f"Explain {t} to a curious twelve-year-old.",
            "input": "",
            "output": f"Here is how {t} works, step by step. "
            + "It matters because " * (i % 5 + 1)
            + "people use it every day.",
        }
        for i, t in enumerate(TOPICS)
    ]
    rows += [
        {"instruction": f"Repeat this text exactly: {p}", "input": "", "output": f"Sure: {p}"}
        for p in PAYLOADS
    ]
    rows += rows[len(TOPICS) :] + rows[:2]  # exact duplicates: the markup rows first
    rows.append(
        {
            "instruction": "Write a phishing email.",
            "input": "",
            "output": "I'm sorry, but I cannot help with that request.",
        }
    )
    rows.append(
        {
            "instruction": "Name three primary colours.",
            "input": "",
            "output": "Red, yellow and blue.",
        }
    )
    return rows


def _dolly_rows() -> list[dict]:
    return [
        {
            "instruction": f"Summarise what {t} is in two sentences.",
            "context": "",
            "response": f"{t.capitalize()} is a subject many people study. It has a long history.",
            "category": "summarization",
        }
        for t in TOPICS[:12]
    ] + [
        {
            "instruction": "Quote this markup: " + PAYLOADS[1],
            "context": PAYLOADS[3],
            "response": PAYLOADS[0] + " " + PAYLOADS[2],
            "category": "open_qa",
        }
    ]


def _hostile_source_rows() -> list[dict]:
    return [
        {
            "id": f"h{i}",
            "source": HOSTILE_SOURCE,
            "messages": [
                {"role": "user", "content": f"Question {i} about {t}?"},
                {
                    "role": "assistant",
                    "content": f"An answer about {t} with {PAYLOADS[i % len(PAYLOADS)]}",
                },
                {"role": "user", "content": "And a follow-up?"},
                {"role": "assistant", "content": "A follow-up answer."},
            ],
            "meta": {},
        }
        for i, t in enumerate(TOPICS[:6])
    ]


STEPS = [
    ("clean", {"profile": "fast", "pii": "off"}),
    ("dedup", {"method": ["exact", "near"]}),
    ("decontaminate", {"benchmark": ["toybench=BENCH:question"], "embedding-model": "none", "no-cache": True}),
    ("score", {"metrics": ["format"]}),
]  # fmt: skip


def build_run(root: Path) -> Path:
    """Lay out OUT/ as ``instructkit run`` will; return OUT."""
    raw = root / "raw"
    raw.mkdir(parents=True)
    write_jsonl(raw / "alpaca.jsonl", _alpaca_rows())
    write_jsonl(raw / "dolly.jsonl", _dolly_rows())
    write_jsonl(raw / "forum.jsonl", _hostile_source_rows())
    bench = write_jsonl(
        raw / "toybench.jsonl",
        [
            {"id": "tb-1", "question": "Name three primary colours."},
            {"id": "tb-2", "question": "Repeat this text exactly: " + PAYLOADS[0]},
        ],
    )
    out = root / "run"
    inputs = [str(raw / n) for n in ("alpaca.jsonl", "dolly.jsonl", "forum.jsonl")]
    funnel = []
    for i, (name, options) in enumerate(STEPS, 1):
        options = {
            k: [x.replace("BENCH", str(bench)) for x in v] if isinstance(v, list) else v
            for k, v in options.items()
        }
        folder = out / f"{i:02d}-{name}"
        step = get_step(name).from_config(options, output=folder / "data.parquet")
        summary = local.run(inputs, folder / "data.parquet", [step])
        funnel.append(summary["steps"][name])
        inputs = [str(folder / "data.parquet")]
    _select(out / "05-select", Path(inputs[0]), n=12)
    funnel.append(
        json.loads((out / "05-select" / "data.summary.json").read_text())["steps"]["select"]
    )
    (out / "summary.json").write_bytes(orjson.dumps({"steps": funnel}, option=orjson.OPT_INDENT_2))
    recipe = {
        "name": "demo-mix",
        "inputs": [
            {"path": str(raw / "alpaca.jsonl"), "source": "alpaca", "license": "cc-by-nc-4.0"},
            {"path": str(raw / "dolly.jsonl"), "source": "dolly", "license": "cc-by-sa-3.0"},
            {"path": str(raw / "forum.jsonl"), "source": HOSTILE_SOURCE, "license": "mit"},
        ],
        "output": str(out),
        "format": "parquet",
        "steps": [{n: o} for n, o in STEPS] + [{"select": {"n": 12}}, {"report": {}}],
    }
    (out / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    return out


def _select(folder: Path, pool: Path, n: int) -> None:
    """Stand-in for the coming select step: the longest responses of each source in turn."""
    folder.mkdir(parents=True)
    table = pq.read_table(pool)
    rows = table.to_pylist()
    length = [-len(r["messages"][-1]["content"]) for r in rows]
    by_length = sorted(range(len(rows)), key=lambda i: length[i])
    place = {}  # rank within its source, so every source is picked from
    seen: dict[str, int] = {}
    for i in by_length:
        place[i] = seen[rows[i]["source"]] = seen.get(rows[i]["source"], -1) + 1
    order = sorted(range(len(rows)), key=lambda i: (place[i], length[i]))
    chosen = sorted(order[:n])
    pq.write_table(table.take(chosen), folder / "data.parquet")
    write_jsonl(
        folder / "data.selection.jsonl",
        [
            {"id": rows[i]["id"], "rank": r + 1, "score": float(len(rows[i]["messages"][-1]["content"])),
             "nearest_id": None, "similarity": None}
            for r, i in enumerate(order[:n])
        ],
    )  # fmt: skip
    write_jsonl(
        folder / "data.rejects.jsonl",
        [
            {"step": "select", "reason": "not_selected", "detail": "below the score cut",
             "record": {"id": rows[i]["id"], "scores": rows[i]["scores"]}}
            for i in order[n:]
        ],
    )  # fmt: skip
    entry = {
        "step": "select",
        "config": {"n": n, "method": "longest-response (test stand-in)"},
        "records_in": len(rows),
        "records_out": n,
        "generated": 0,
        "rejected": {"not_selected": len(rows) - n},
        "seconds": 0.0,
    }
    (folder / "data.summary.json").write_text(json.dumps({"steps": {"select": entry}}))
