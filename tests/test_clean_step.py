"""The clean command end to end: accounting, reasons with rule and turn, flag mode, PII modes, errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from instructkit.errors import InstructkitError
from instructkit.schema import to_records, to_table
from instructkit.steps import get_step
from instructkit.steps.clean import CleanConfig

ROWS = [
    {
        "instruction": "Name a colour.",
        "input": "<noinput>",
        "output": "Certainly! Blue is a colour. I hope this helps!",
    },
    {
        "instruction": "Write a poem about the sea.",
        "input": "",
        "output": "I'm sorry, but I cannot write poems.",
    },
    {
        "instruction": "What do you think of cats?",
        "input": "",
        "output": "As an AI language model, here is a neutral view: cats are popular pets.",
    },
    {
        "instruction": "Explain photosynthesis.",
        "input": "",
        "output": "Plants turn light, water and carbon dioxide into sugar and oxygen.",
    },
    {
        "instruction": "Repeat: hello there friend",
        "input": "",
        "output": "Repeat: hello there friend",
    },
    {
        "instruction": "List the steps.",
        "input": "",
        "output": "First you open the box and then you take out the parts and",
    },
    {
        "instruction": "Extract the e-mail.",
        "input": "Contact: lena.vogt@posteo.de",
        "output": "lena.vogt@posteo.de",
    },
]


def run_cli(
    tmp_path: Path, *args: str, capsys: pytest.CaptureFixture[str] | None = None
) -> tuple[int, str]:
    """Run ``instructkit clean`` in-process (imports are paid once per test session); return (exit code, stderr)."""
    from instructkit.cli.app import main

    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    argv = ["instructkit", "clean", str(src), "-o", str(tmp_path / "out.jsonl"), *args]
    old, sys.argv = sys.argv, argv
    code = 0
    try:
        main()
    except SystemExit as e:
        code = int(e.code or 0)
    finally:
        sys.argv = old
    return code, capsys.readouterr().err if capsys else ""


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_fast_profile_filters_with_reasons_rules_and_turns(tmp_path: Path) -> None:
    code, err = run_cli(tmp_path, "--profile", "fast", "--pii", "off")
    assert code == 0, err
    summary = json.loads((tmp_path / "out.summary.json").read_text())
    assert summary["balanced"] and summary["records_in"] == len(ROWS)
    assert summary["rejected"] == {"echo": 1, "gptism": 1, "refusal": 1, "truncated": 1}
    rejects = {r["reason"]: r for r in read(tmp_path / "out.rejects.jsonl")}
    assert (
        "rule apology_cannot" in rejects["refusal"]["detail"]
        and "turn 1 (assistant)" in rejects["refusal"]["detail"]
    )
    assert "rule as_an_ai" in rejects["gptism"]["detail"]
    assert rejects["truncated"]["record"]["messages"][1]["content"].endswith(
        "and"
    )  # the original, untouched
    kept = read(tmp_path / "out.jsonl")
    colour = next(r for r in kept if r["messages"][0]["content"].startswith("Name a colour"))
    assert colour["messages"][0]["content"] == "Name a colour."
    assert colour["meta"]["input"] == ""
    assert colour["messages"][1]["content"] == "Blue is a colour."
    assert (
        colour["scores"]["structure.placeholder_input"] == 1.0
        and colour["scores"]["gptism.stripped"] == 2.0
    )
    assert [e["rule"] for e in colour["meta"]["clean_edits"]] == [
        "placeholder_input",
        "interjection_opener",
        "hope_helps",
    ]
    assert colour["meta"]["clean_edits"][1] == {
        "rule": "interjection_opener",
        "turns": [1],
        "removed": "Certainly!",
    }


def test_flag_mode_keeps_everything_and_says_why(tmp_path: Path) -> None:
    code, err = run_cli(tmp_path, "--profile", "fast", "--pii", "off", "--mode", "flag")
    assert code == 0, err
    kept = read(tmp_path / "out.jsonl")
    assert len(kept) == len(ROWS)
    flagged = {f["reason"] for r in kept for f in r["meta"].get("clean_flags", [])}
    assert flagged == {"echo", "gptism", "refusal", "truncated"}
    refusal = next(r for r in kept if r["scores"]["refusal"] == 1.0)
    assert refusal["messages"][1]["content"] == "I'm sorry, but I cannot write poems."
    # flag mode rewrites nothing
    assert kept[0]["messages"][1]["content"].startswith("Certainly!")


def test_bad_options_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_cli(tmp_path, "--pii", "shred", capsys=capsys)
    assert code == 2
    assert (
        "option 'pii': expected one of" in err
        and "Traceback" not in err
        and len(err.strip().splitlines()) <= 2
    )
    with pytest.raises(InstructkitError):
        CleanConfig.from_config({"toxicity-threshold": 1.5})


def test_step_is_registered_and_keeps_accounting_in_process() -> None:
    cls = get_step("clean")
    step = cls(CleanConfig(profile="fast", pii="off"))
    recs = [
        {
            "id": str(i),
            "source": "t",
            "meta": {},
            "messages": [
                {"role": "user", "content": r["instruction"]},
                {"role": "assistant", "content": r["output"]},
            ],
        }
        for i, r in enumerate(ROWS)
    ]
    res = step.process(to_table(recs))
    assert res.kept.num_rows + len(res.rejects) == len(recs)
    assert all(r.step == "clean" and r.detail for r in res.rejects)
    assert {r["id"] for r in to_records(res.kept)}.isdisjoint({r.record["id"] for r in res.rejects})


@pytest.mark.slow
def test_full_profile_redacts_pii_in_text_and_meta(tmp_path: Path) -> None:
    code, err = run_cli(tmp_path, "--no-truncation")
    assert code == 0, err
    kept = read(tmp_path / "out.jsonl")
    mail = next(r for r in kept if r["messages"][0]["content"].startswith("Extract"))
    assert mail["meta"]["input"] == "Contact: <EMAIL>"
    assert mail["messages"][0]["content"] == "Extract the e-mail.\n\nContact: <EMAIL>"
    assert mail["messages"][1]["content"] == "<EMAIL>"
    assert mail["meta"]["pii_redactions"] == [
        {
            "turn": 0,
            "type": "EMAIL_ADDRESS",
            "rule": "OfflineEmailRecognizer:Email (Medium)",
            "score": 1.0,
        },
        {
            "turn": 1,
            "type": "EMAIL_ADDRESS",
            "rule": "OfflineEmailRecognizer:Email (Medium)",
            "score": 1.0,
        },
    ]
    assert mail["scores"]["pii.count"] == 2.0
    assert all("toxicity.user" in r["scores"] and "toxicity.assistant" in r["scores"] for r in kept)
    run_cli(tmp_path, "--no-truncation", "--pii", "drop")
    rejects = {r["reason"]: r for r in read(tmp_path / "out.rejects.jsonl")}
    assert (
        "EMAIL_ADDRESS" in rejects["pii"]["detail"] and "turns [0, 1]" in rejects["pii"]["detail"]
    )


@pytest.mark.slow
def test_toxicity_scorer_api() -> None:
    from instructkit.models.toxicity import load_toxicity

    scorer = load_toxicity()
    p = scorer.score(["Have a lovely day, friend.", "you are a fucking idiot", ""])
    assert p.shape == (3,) and ((p >= 0) & (p <= 1)).all()
    assert p[1] > 0.8 > p[0] and p[2] == 0.0


@pytest.mark.slow
@pytest.mark.shared_data
def test_real_sharegpt_sample_balances(shared_data: Path, tmp_path: Path) -> None:
    from instructkit.cli.app import main

    src = shared_data / "instructions/sharegpt_v3_sample3k/sharegpt_v3_first3000.jsonl"
    head = tmp_path / "head.jsonl"
    head.write_text("\n".join(src.read_text(encoding="utf-8").split("\n")[:150]) + "\n")
    old, sys.argv = (
        sys.argv,
        ["instructkit", "clean", str(head), "-o", str(tmp_path / "o.jsonl"), "--profile", "fast"],
    )
    try:
        main()
    except SystemExit as e:
        assert not e.code
    finally:
        sys.argv = old
    summary = json.loads((tmp_path / "o.summary.json").read_text())
    assert summary["records_in"] == 150 and summary["balanced"]
    for r in read(tmp_path / "o.rejects.jsonl"):
        assert r["reason"] and r["detail"] and r["step"] in ("clean", "read")


def test_language_model_loads_once_from_models() -> None:
    from instructkit.clean.language import identify
    from instructkit.models.language import load_language_identifier

    assert load_language_identifier() is load_language_identifier()
    (found,) = identify(["Das ist ein ganz normaler deutscher Satz über das Wetter heute."])
    assert found is not None and found[0] == "de"
