"""Each reader turns its format into records, and each writer gives the same rows back."""

from __future__ import annotations

from pathlib import Path

import pytest

import instructkit
from instructkit import formats
from instructkit.errors import RowError
from tests.helpers import read_jsonl, write_jsonl

ALPACA = [
    {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"},
    {"instruction": "Name a colour.", "input": "", "output": "Teal."},
    {
        "instruction": "Continue.",
        "input": "",
        "output": "Done.",
        "system": "Be terse.",
        "history": [["Hi", "Hello."], ["Ready?", "Yes."]],
    },
    {"instruction": "Tag it.", "input": "", "output": "ok", "extra_field": {"nested": [1, 2]}},
]
SHAREGPT = [
    {
        "id": "a_0",
        "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}],
    },
    {
        "id": "a_1",
        "conversations": [
            {"from": "system", "value": "S"},
            {"from": "user", "value": "Q"},
            {"from": "chatgpt", "value": "A"},
            {"from": "human", "value": "Q2"},
            {"from": "bard", "value": "A2"},
        ],
    },
    {
        "conversations": [
            {"from": "human", "value": "Call it"},
            {"from": "function_call", "value": '{"name": "f"}'},
            {"from": "observation", "value": '{"r": 1}'},
            {"from": "gpt", "value": "Done"},
        ],
        "tools": '[{"name": "f"}]',
    },
    {
        "id": "a_3",
        "conversations": [
            {"role": "user", "content": "Q"},
            {"role": "assistant", "content": "A", "weight": 0},
        ],
    },
]
DOLLY = [
    {
        "instruction": "Who wrote it?",
        "context": "A book by Ann.",
        "response": "Ann.",
        "category": "closed_qa",
    },
    {
        "instruction": "Brainstorm names.",
        "context": "",
        "response": "A, B, C.",
        "category": "brainstorming",
    },
]
OPENAI = [
    {
        "messages": [
            {"role": "system", "content": "Sys"},
            {"role": "user", "content": "Q"},
            {"role": "assistant", "content": "A"},
        ]
    },
    {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "part one"},
                    {"type": "text", "text": "part two"},
                ],
            },
            {"role": "assistant", "content": "A"},
        ],
        "label": True,
    },
    {
        "messages": [
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "content": "sunny", "tool_call_id": "c1"},
            {"role": "assistant", "content": "Sunny."},
        ]
    },
    {
        "messages": [
            {"role": "user", "content": [{"type": "text", "value": "v-style part"}]},
            {"role": "assistant", "content": [{"type": "text", "value": "answer"}]},
        ]
    },
]


@pytest.mark.parametrize(
    ("fmt", "rows"),
    [("alpaca", ALPACA), ("sharegpt", SHAREGPT), ("dolly", DOLLY), ("openai", OPENAI)],
)
def test_round_trip_is_lossless(tmp_path: Path, fmt: str, rows: list[dict]) -> None:
    src = write_jsonl(tmp_path / f"in.{fmt}.jsonl", rows)
    summary = instructkit.convert(str(src), tmp_path / "out.jsonl", to=fmt)
    assert summary["rejected"] == {} and summary["records_out"] == len(rows)
    assert read_jsonl(tmp_path / "out.jsonl") == rows


def test_format_detection_per_file(tmp_path: Path) -> None:
    cases = {"alpaca": ALPACA, "sharegpt": SHAREGPT, "dolly": DOLLY, "openai": OPENAI}
    for name, rows in cases.items():
        write_jsonl(tmp_path / f"{name}.jsonl", rows)
    summary = instructkit.convert(str(tmp_path), tmp_path / "out" / "all.jsonl")
    assert {Path(k).stem: v for k, v in summary["formats"].items()} == {k: k for k in cases}


def test_alpaca_record_shape() -> None:
    (rec,) = formats.get("alpaca").parse(ALPACA[0], "src")
    assert rec["messages"] == [
        {"role": "user", "content": "Add the numbers.\n\n2 and 3"},
        {"role": "assistant", "content": "5"},
    ]
    assert rec["meta"] == {"input": "2 and 3"} and rec["source"] == "src" and len(rec["id"]) == 24
    (multi,) = formats.get("alpaca").parse(ALPACA[2], "src")
    assert [m["role"] for m in multi["messages"]] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
    ]


def test_sharegpt_roles_and_ids() -> None:
    (rec,) = formats.get("sharegpt").parse(SHAREGPT[1], "s")
    assert rec["id"] == "a_1"
    assert [m["role"] for m in rec["messages"]] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    (tools,) = formats.get("sharegpt").parse(SHAREGPT[2], "s")
    assert [m["role"] for m in tools["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert tools["meta"]["tools"] == SHAREGPT[2]["tools"]


def test_openai_parts_and_tool_calls() -> None:
    (rec,) = formats.get("openai").parse(OPENAI[1], "o")
    assert rec["messages"][0]["content"] == "part one\n\npart two" and rec["meta"]["label"] is True
    (call,) = formats.get("openai").parse(OPENAI[2], "o")
    assert call["messages"][1] == {
        "role": "assistant",
        "content": "",
    }  # a tool call carries no text, and is valid


def test_lima_and_evol_and_text() -> None:
    (lima,) = formats.get("lima").parse(
        {"conversations": ["q", "a", "q2", "a2"], "source": "se"}, "l"
    )
    assert [m["role"] for m in lima["messages"]] == ["user", "assistant", "user", "assistant"]
    assert lima["meta"] == {"source": "se"} and lima["source"] == "l"
    (evol,) = formats.get("evol").parse(
        {"idx": 3, "Skill": "Math", "Difficulty": 7, "Instruction": "Prove it."}, "w"
    )
    assert evol["id"] == "3" and evol["messages"] == [{"role": "user", "content": "Prove it."}]
    assert evol["meta"]["Difficulty"] == 7
    (v2,) = formats.get("evol").parse(
        {
            "idx": "x1",
            "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}],
        },
        "w",
    )
    assert v2["id"] == "x1" and len(v2["messages"]) == 2
    (text,) = formats.get("text").parse("Just a prompt", "t")
    assert text["messages"] == [{"role": "user", "content": "Just a prompt"}]


def test_oasst_tree_gives_every_thread() -> None:
    tree = {
        "message_tree_id": "t1",
        "prompt": {
            "message_id": "p",
            "role": "prompter",
            "text": "Q",
            "replies": [
                {
                    "message_id": "a1",
                    "role": "assistant",
                    "text": "A1",
                    "replies": [
                        {
                            "message_id": "f",
                            "role": "prompter",
                            "text": "F",
                            "replies": [{"message_id": "a3", "role": "assistant", "text": "A3"}],
                        }
                    ],
                },
                {"message_id": "a2", "role": "assistant", "text": "A2"},
                {"message_id": "gone", "role": "assistant", "text": "x", "deleted": True},
            ],
        },
    }
    recs = formats.get("oasst").parse(tree, "o")
    assert sorted(r["id"] for r in recs) == ["a2", "a3"]
    assert all(r["meta"]["tree_id"] == "t1" for r in recs)
    longest = next(r for r in recs if r["id"] == "a3")
    assert [m["content"] for m in longest["messages"]] == ["Q", "A1", "F", "A3"]
    assert longest["meta"]["message_ids"] == ["p", "a1", "f", "a3"]


@pytest.mark.parametrize(
    ("fmt", "row", "reason"),
    [
        ("alpaca", {"instruction": "x", "output": None, "input": []}, "wrong_type"),
        ("alpaca", {"instruction": ["x"], "output": "y"}, "wrong_type"),
        ("alpaca", {"instruction": "x", "output": "  "}, "empty_turn"),
        ("sharegpt", {"conversations": []}, "empty_conversation"),
        ("sharegpt", {"conversations": [{"from": "alien", "value": "x"}]}, "unknown_role"),
        ("sharegpt", {"conversations": "not a list"}, "wrong_type"),
        ("openai", {"messages": [{"role": "user", "content": 5}]}, "wrong_type"),
        ("dolly", {"instruction": None, "context": ""}, "missing_field"),
        ("alpaca", ["a", "list"], "wrong_type"),
    ],
)
def test_invalid_rows_raise_reasoned_errors(fmt: str, row: object, reason: str) -> None:
    with pytest.raises(RowError) as e:
        formats.get(fmt).parse(row, "s")
    assert e.value.reason == reason and e.value.detail


def test_cross_format_export(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "s.jsonl", SHAREGPT[:2])
    instructkit.convert(str(src), tmp_path / "a.jsonl", to="alpaca")
    rows = read_jsonl(tmp_path / "a.jsonl")
    assert rows[0] == {"instruction": "Hi", "input": "", "output": "Hello!", "id": "a_0"}
    assert (
        rows[1]["system"] == "S"
        and rows[1]["history"] == [["Q", "A"]]
        and rows[1]["instruction"] == "Q2"
    )
    instructkit.convert(str(tmp_path / "a.jsonl"), tmp_path / "o.jsonl", to="openai")
    msgs = read_jsonl(tmp_path / "o.jsonl")[1]["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant"]
