"""Recipes: the same records as the commands, resume after kill -9, clear errors for bad recipes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from instructkit.errors import InstructkitError
from instructkit.recipe import load, run_recipe
from instructkit.schema import to_records
from instructkit.steps import REGISTRY, get_step
from tests.helpers import cli, read_jsonl, write_jsonl

ROOT = Path(__file__).resolve().parents[1]

#: A recipe of the per-batch and global steps that run offline without a model download.
STEPS_YAML = """\
  - clean: {profile: fast}
  - dedup: {method: "exact,near"}
  - decontaminate: {benchmark: ["bench=BENCH:question"], embedding-model: none}
  - score: {metrics: [format]}
"""


def rows(n: int, start: int = 0) -> list[dict[str, str]]:
    """Alpaca rows with exact and near duplicates, one planted benchmark item, one refusal."""
    out = []
    for i in range(start, start + n):
        text = f"Describe item {i % (n // 3 or 1)} of the catalogue in two sentences, please."
        out.append(
            {
                "instruction": text,
                "input": "",
                "output": f"Item {i % (n // 3 or 1)} is useful. It is cheap.",
            }
        )
    out.append(
        {
            "instruction": "Natalia sold clips to 48 of her friends in April, and then she sold half as many"
            " clips in May. How many clips did Natalia sell altogether?",
            "input": "",
            "output": "72.",
        }
    )
    out.append(
        {
            "instruction": "Tell me a joke.",
            "input": "",
            "output": "I'm sorry, but I cannot help with that.",
        }
    )
    return out


def make_recipe(
    tmp_path: Path, n: int = 30, steps: str = STEPS_YAML, name: str = "recipe.yaml"
) -> Path:
    (tmp_path / "in").mkdir(exist_ok=True)
    write_jsonl(tmp_path / "in" / "a.jsonl", rows(n))
    bench = write_jsonl(
        tmp_path / "bench.jsonl", [{"id": "g1", "question": rows(3)[-2]["instruction"]}]
    )
    text = f"name: t\ninputs:\n  - path: in\n    license: cc-by-4.0\noutput: run\nsteps:\n{steps}"
    path = tmp_path / name
    path.write_text(text.replace("BENCH", str(bench)))
    return path


def parquet_records(path: Path) -> list[dict[str, Any]]:
    return to_records(pq.read_table(path))


def test_recipe_gives_the_records_of_the_commands_step_for_step(tmp_path: Path) -> None:
    recipe = make_recipe(tmp_path)
    funnel = run_recipe(load(recipe))
    assert funnel["balanced"] and [s["step"] for s in funnel["steps"]] == [
        "convert", "clean", "dedup", "decontaminate", "score",
    ]  # fmt: skip
    bench = tmp_path / "bench.jsonl"
    commands = [
        ("convert", []),
        ("clean", ["--profile", "fast"]),
        ("dedup", ["--method", "exact,near"]),
        ("decontaminate", ["-b", f"bench={bench}:question", "--embedding-model", "none"]),
        ("score", ["--metrics", "format"]),
    ]
    previous = tmp_path / "in"
    for k, (command, flags) in enumerate(commands):
        out = tmp_path / "cmd" / f"{k}.jsonl"
        res = cli(command, previous, "-o", out, *flags)
        assert res.exit_code == 0, res.output
        folder = tmp_path / "run" / f"{k:02d}-{command}"
        assert read_jsonl(out) == parquet_records(folder / "data.parquet"), command
        assert len(read_jsonl(out.with_suffix("").with_suffix(".rejects.jsonl"))) == len(
            read_jsonl(folder / "data.rejects.jsonl")
        )
        previous = out
    assert read_jsonl(tmp_path / "run" / "data.jsonl") == read_jsonl(previous)
    assert (tmp_path / "run" / "03-decontaminate" / "data.hits.jsonl").read_text().count("\n") == 1
    assert funnel["rejected"]["contaminated"] == 1 and funnel["rejected"]["duplicate"] > 0


def test_rerun_skips_finished_steps_and_a_changed_option_reruns_from_that_step(
    tmp_path: Path,
) -> None:
    recipe = make_recipe(tmp_path)
    run_recipe(load(recipe))
    run = tmp_path / "run"
    stamps = {p: p.stat().st_mtime_ns for p in run.glob("*/data.parquet")}
    run_recipe(load(recipe))
    assert {p: p.stat().st_mtime_ns for p in run.glob("*/data.parquet")} == stamps
    recipe.write_text(
        recipe.read_text().replace("{metrics: [format]}", "{metrics: [format, safety]}")
    )
    run_recipe(load(recipe))
    changed = {
        p.parent.name for p in run.glob("*/data.parquet") if p.stat().st_mtime_ns != stamps[p]
    }
    assert changed == {"04-score"}
    recipe.write_text(recipe.read_text().replace('method: "exact,near"', "method: exact"))
    run_recipe(load(recipe))
    changed = {
        p.parent.name for p in run.glob("*/data.parquet") if p.stat().st_mtime_ns != stamps[p]
    }
    assert changed == {"02-dedup", "03-decontaminate", "04-score"}


def test_a_step_may_appear_twice(tmp_path: Path) -> None:
    steps = "  - score: {metrics: [format]}\n  - dedup: {method: exact}\n  - score: {metrics: [safety]}\n"
    funnel = run_recipe(load(make_recipe(tmp_path, steps=steps)))
    assert [s["folder"] for s in funnel["steps"]] == [
        "00-convert",
        "01-score",
        "02-dedup",
        "03-score",
    ]
    assert funnel["steps"][1]["config"]["metrics"] == ["format"]
    assert funnel["steps"][3]["config"]["metrics"] == ["safety"]
    scores = parquet_records(tmp_path / "run" / "03-score" / "data.parquet")[0]["scores"]
    assert any(k.startswith("format.") for k in scores) and "toxicity" in "".join(scores)


@pytest.mark.slow
def test_kill_9_mid_step_then_rerun_resumes_with_identical_output(tmp_path: Path) -> None:
    """A run killed while dedup works resumes there: earlier steps untouched, same final output."""
    n = 60_000
    steps = "  - clean: {profile: fast, pii: off}\n  - dedup: {method: [exact, near]}\n  - score: {metrics: [format]}\n"
    for where in ("a", "b"):
        (tmp_path / where).mkdir()
        make_recipe(tmp_path / where, n=n, steps=steps)
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "instructkit", "run"]
    proc = subprocess.Popen(
        [*cmd, str(tmp_path / "a" / "recipe.yaml")], env=env, stderr=subprocess.DEVNULL
    )
    run = tmp_path / "a" / "run"
    deadline = time.time() + 600
    while not (run / "01-clean" / ".done").exists() and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run / "02-dedup" / ".done").exists() and not (run / "data.jsonl").exists()
    kept = {p: p.stat().st_mtime_ns for p in run.glob("0[01]-*/*")}
    subprocess.run(
        [*cmd, str(tmp_path / "a" / "recipe.yaml")], env=env, check=True, capture_output=True
    )
    assert {p: p.stat().st_mtime_ns for p in run.glob("0[01]-*/*")} == kept
    subprocess.run(
        [*cmd, str(tmp_path / "b" / "recipe.yaml")], env=env, check=True, capture_output=True
    )
    assert (run / "data.jsonl").read_bytes() == (tmp_path / "b" / "run" / "data.jsonl").read_bytes()
    for name in ("02-dedup/data.rejects.jsonl", "03-score/data.parquet"):
        assert (run / name).read_bytes() == (tmp_path / "b" / "run" / name).read_bytes(), name
    assert not list(run.rglob(".*.tmp-*")), "temporary files left behind"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("inputs: [in]\noutput: run\nsteps:\n  - dedup: {x: [\n", r"recipe.yaml:5: not valid YAML"),
        ("inputs: [in]\noutput: run\nstepz: []\n", r"recipe.yaml:3: unknown key 'stepz': did you mean 'steps'\?"),
        ("inputs: [in]\noutput: run\nsteps:\n  - dedupe: {}\n", r"recipe.yaml:4: unknown step 'dedupe': did you mean 'dedup'\? steps are"),
        ("inputs: [in]\noutput: run\nsteps:\n  - dedup:\n      treshold: 0.5\n",
         r"recipe.yaml:5: step 'dedup': unknown option 'treshold': did you mean 'threshold'\?"),
        ("inputs: [in]\noutput: run\nsteps:\n  - dedup:\n      method: exact\n      threshold: high\n",
         r"recipe.yaml:6: step 'dedup': option 'threshold': Input should be a valid number"),
        ("inputs: [in]\noutput: run\nsteps:\n  - clean: {mode: strict}\n",
         r"recipe.yaml:4: step 'clean': option 'mode': expected one of 'filter' or 'flag', got 'strict'"),
        ("inputs: [nowhere.jsonl]\noutput: run\n", r"recipe.yaml:1: input 'nowhere.jsonl' does not exist"),
        ("inputs: [in]\nsteps: []\n", r"recipe.yaml:1: the recipe needs 'output'"),
        ("inputs: [in]\noutput: run\nformat: xml\n", r"recipe.yaml:3: format 'xml' is not one of jsonl, parquet"),
    ],
)  # fmt: skip
def test_bad_recipes_are_one_line_naming_file_and_line(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "in").mkdir()
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text)
    with pytest.raises(InstructkitError, match=message):
        load(recipe)
    res = subprocess.run(
        [sys.executable, "-m", "instructkit", "run", str(recipe)],
        capture_output=True, text=True, env=os.environ | {"PYTHONPATH": str(ROOT / "src")},
    )  # fmt: skip
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "Traceback" not in res.stderr


#: For each step: a recipe mapping and the command-line flags that mean the same.
SAME_CONFIG = {
    "clean": ({"profile": "fast", "pii": "off", "lang": ["en", "de"], "strip-fillers": False},
              ["--profile", "fast", "--pii", "off", "--lang", "en,de", "--keep-fillers"]),
    "dedup": ({"method": "exact,semantic", "num_perm": 64, "cluster": "star"},
              ["--method", "exact", "--method", "semantic", "--num-perm", "64", "--cluster", "star"]),
    "decontaminate": ({"benchmark": ["a=x.jsonl:q,r", "gsm8k"], "embedding-model": "none", "ngram": 8},
                      ["-b", "a=x.jsonl:q,r", "-b", "gsm8k", "--embedding-model", "none", "--ngram", "8"]),
    "score": ({"metrics": ["complexity", "format"], "ifd": False}, ["--metrics", "complexity,format", "--no-ifd"]),
    "evolve": ({"rounds": 2, "keep-seeds": False, "base-url": "http://x/v1", "model": "m"},
               ["--rounds", "2", "--no-keep-seeds", "--base-url", "http://x/v1", "--model", "m"]),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SAME_CONFIG))
def test_recipe_mapping_and_cli_flags_build_the_same_config(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The command only maps flags onto the step's config: capture the step the command builds."""
    mapping, flags = SAME_CONFIG[name]
    built: list[Any] = []
    import instructkit.cli.steps as steps_cli

    monkeypatch.setattr(
        steps_cli, "run_steps", lambda inputs, output, steps, common: built.extend(steps) or {}
    )
    res = cli(name, tmp_path, "-o", tmp_path / "o.jsonl", *flags)
    assert res.exit_code == 0, res.output
    assert built[0].config == get_step(name).Config.from_config(mapping)


def test_every_registered_step_has_a_config_whose_defaults_round_trip() -> None:
    for name in REGISTRY:
        config_cls = get_step(name).Config
        for field, info in config_cls.model_fields.items():
            assert info.description, f"{name}.{field} has no description (it is the --help text)"
        if all(not info.is_required() for info in config_cls.model_fields.values()):
            config = config_cls()
            assert config_cls.from_config(config.to_mapping()) == config


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("dedup: {method: exact}", "dedup: {method: near, fields: instruction, threshold: 0.5}"),
        ("clean: {profile: fast, pii: off}", "clean: {profile: fast, refusals: false, min-response-words: 5}"),
        ("decontaminate: {benchmark: [BENCH], embedding-model: none}",
         "decontaminate: {benchmark: [BENCH], embedding-model: none, mode: flag}"),
        ("score: {metrics: [format]}", "score: {metrics: [safety]}"),
    ],
)  # fmt: skip
def test_the_same_step_twice_keeps_both_summaries(tmp_path: Path, first: str, second: str) -> None:
    steps = f"  - {first}\n  - {second}\n".replace("BENCH", "bench=BENCH:question")
    funnel = run_recipe(load(make_recipe(tmp_path, steps=steps)))
    a, b = funnel["steps"][1], funnel["steps"][2]
    assert a["step"] == b["step"] and a["config"] != b["config"]
    assert a["records_out"] == b["records_in"] and funnel["balanced"]
    for entry in (a, b):
        summary = (tmp_path / "run" / entry["folder"] / "data.summary.json").read_text()
        assert f'"{entry["step"]}"' in summary


def test_report_step_writes_the_page_and_card_last(tmp_path: Path) -> None:
    recipe = make_recipe(tmp_path, steps="  - dedup: {method: exact}\n  - report: {}\n")
    funnel = run_recipe(load(recipe))
    page = (tmp_path / "run" / "report.html").read_text()
    assert "<html" in page and str(funnel["records_out"]) in page
    assert "cc-by-4.0" in (tmp_path / "run" / "README.md").read_text()
    bad = make_recipe(tmp_path, steps="  - report: {}\n  - dedup: {}\n", name="bad.yaml")
    with pytest.raises(
        InstructkitError, match="bad.yaml:7: 'report' reads the finished run: put it last"
    ):
        load(bad)
