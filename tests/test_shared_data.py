"""Every real file in ../shared/data/instructions converts with its format detected, the books
balance, and only genuinely broken rows are rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

import instructkit
from instructkit.formats.base import is_blank  # empty, white space or zero-width characters only
from tests.helpers import read_jsonl

pytestmark = pytest.mark.shared_data

EXPECTED_FORMAT = {
    "alpaca_sample_1k": "alpaca",
    "alpaca_sample_2k": "alpaca",
    "alpaca_gpt4_style_demo_llamafactory": "alpaca",
    "lima_alpaca_format": "alpaca",
    "oasst_zh_alpaca_format": "alpaca",
    "gpteacher_roleplay": "alpaca",
    "gpteacher_toolformer": "alpaca",
    "gsm8k_train_alpaca_format": "alpaca",
    "identity_templated_llamafactory": "alpaca",
    "sharegpt_v3_sample3k": "sharegpt",
    "sharegpt_fastchat_dummy": "sharegpt",
    "glaive_toolcall_sharegpt_demo": "sharegpt",
    "dpo_sharegpt_demo": "sharegpt",
    "kto_openai_messages_demo": "openai",
    "reason_tool_use_messages_demo": "openai",
    "oasst_trees_en100": "oasst",
    "oasst_prompt_lottery_en250": "text",
    "self_instruct_seed_tasks": "self_instruct",
    "self_instruct_user_oriented_eval": "self_instruct",
    "wizardlm_evol_testset": "evol",
    "ifeval_gpt4_responses": "prompt",
}
#: Only the real ShareGPT crawl holds broken conversations; everything else must read cleanly.
MAY_REJECT = {"sharegpt_v3_sample3k": {"empty_conversation", "empty_turn"}}


@pytest.mark.parametrize("name", sorted(EXPECTED_FORMAT))
def test_convert_shared_file(shared_data: Path, tmp_path: Path, name: str) -> None:
    folder = shared_data / "instructions" / name
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    out = tmp_path / "out.jsonl"
    summary = instructkit.convert(str(folder), out)
    assert set(summary["formats"].values()) == {EXPECTED_FORMAT[name]}
    assert summary["balanced"]
    assert set(summary["rejected"]) <= MAY_REJECT.get(name, set()), summary["rejected"]
    rejects = read_jsonl(tmp_path / "out.rejects.jsonl")
    for rej in rejects:
        # A person can act on it: the file and line, and the conversation itself.
        assert str(folder) in rej["detail"] and rej["record"] is not None
        conv = rej["record"]["conversations"]
        assert conv == [] or any(is_blank(t["value"]) for t in conv)
    records = read_jsonl(out)
    assert all(
        r["messages"]
        and all(m["content"].strip() or m["role"] == "assistant" for m in r["messages"])
        for r in records
    )


def test_sharegpt_sample_rejects_exactly_the_broken_ones(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "instructions" / "sharegpt_v3_sample3k"
    rows = [r for f in sorted(src.glob("*.jsonl")) for r in read_jsonl(f)]
    broken = sum(
        1
        for r in rows
        if not r["conversations"] or any(is_blank(t["value"]) for t in r["conversations"])
    )
    summary = instructkit.convert(str(src), tmp_path / "out.jsonl")
    assert summary["rejected_total"] == broken > 0
    assert summary["records_out"] == len(rows) - broken


@pytest.mark.parametrize(
    "name", ["alpaca_sample_1k", "sharegpt_fastchat_dummy", "kto_openai_messages_demo"]
)
def test_real_files_round_trip(shared_data: Path, tmp_path: Path, name: str) -> None:
    folder = shared_data / "instructions" / name
    fmt = EXPECTED_FORMAT[name]
    (src,) = sorted(folder.glob("*.jsonl"))
    instructkit.convert(str(src), tmp_path / "back.jsonl", to=fmt)
    assert read_jsonl(tmp_path / "back.jsonl") == read_jsonl(src)
