"""Reading what a run left behind: its steps' summaries, rejects, hits and selections.

Two kinds of input describe the same thing, a chain of steps:

- a run directory (``instructkit run``): ``NN-STEP/data.*`` with its sidecar
  files, ``summary.json`` (the funnel) and ``recipe.yaml``;
- step outputs given in order (``clean.jsonl dedup.jsonl ...``), each with
  ``STEM.summary.json`` and its other sidecar files beside it.

Only the funnel figures are read whole; rejects are sampled (a few per reason),
so a report of a run with millions of rejects stays quick.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from instructkit.accounting import sidecar
from instructkit.errors import InstructkitError

#: ``NN-STEP`` folders of a run directory.
STEP_DIR = re.compile(r"^(\d+)-([A-Za-z_][\w-]*)$")
#: File types a step's records may be written as (the run directory uses Parquet).
RECORD_SUFFIXES = (".parquet", ".jsonl", ".json", ".jsonl.gz", ".jsonl.zst")


@dataclass
class StepRun:
    """One step of the chain: its summary entry and the files it wrote."""

    name: str
    label: str
    entry: dict[str, Any]
    output: Path | None = None
    #: The records the step read (the previous step's output), when known.
    input: Path | None = None

    def file(self, kind: str, ext: str = ".jsonl") -> Path | None:
        if self.output is None:
            return None
        path = sidecar(self.output, kind, ext)
        return path if path.exists() else None

    @property
    def rejects(self) -> Path | None:
        return self.file("rejects")

    @property
    def hits(self) -> Path | None:
        return self.file("hits")

    @property
    def selection(self) -> Path | None:
        return self.file("selection")


@dataclass
class RunData:
    """Everything the report and the card are drawn from."""

    name: str
    steps: list[StepRun]
    #: The final records (the run's data file, else the last step's output).
    final: Path | None
    #: ``path``, ``source`` and ``license`` per input, as the recipe lists them.
    inputs: list[dict[str, Any]] = field(default_factory=list)
    recipe: str | None = None
    run_dir: Path | None = None


def load(paths: list[Path], name: str | None = None, inputs: list[dict] | None = None) -> RunData:
    """Read a run directory or step outputs; ``name`` and ``inputs`` override the recipe's."""
    if not paths:
        raise InstructkitError("report: give a run directory or step outputs")
    for p in paths:
        if not p.exists():
            raise InstructkitError(f"report: {p} does not exist")
    if len(paths) == 1 and paths[0].is_dir():
        run = _load_run_dir(paths[0])
    elif any(p.is_dir() for p in paths):
        raise InstructkitError("report: give one run directory, or step output files (not both)")
    else:
        run = _load_outputs(paths)
    if name:
        run.name = name
    if inputs:  # the recipe runner's inputs; else the recipe.yaml's
        run.inputs = [dict(i) for i in inputs]
    return run


def _load_run_dir(root: Path) -> RunData:
    folders = sorted(
        (d for d in root.iterdir() if d.is_dir() and STEP_DIR.match(d.name)),
        key=lambda d: int(STEP_DIR.match(d.name).group(1)),  # type: ignore[union-attr]
    )
    funnel = _funnel(root / "summary.json")
    if not folders and not funnel:
        raise InstructkitError(
            f"report: {root} is not a run directory (no NN-STEP folders, no summary.json)"
        )
    steps: list[StepRun] = []
    previous: Path | None = None
    for d in folders:
        step = STEP_DIR.match(d.name).group(2)  # type: ignore[union-attr]
        output = _records_file(d)
        summary = _read_json(d / "data.summary.json") if (d / "data.summary.json").exists() else {}
        entry = _entry(summary, step) if summary else _funnel_entry(funnel, step, len(steps))
        steps.append(StepRun(step, d.name, entry, output, previous))
        previous = output or previous
    if not folders:  # a funnel without its step folders: figures only
        steps = [StepRun(e.get("step", "?"), e.get("step", "?"), e) for e in funnel]
    recipe_path = root / "recipe.yaml"
    recipe = recipe_path.read_text(encoding="utf-8") if recipe_path.exists() else None
    parsed = _parse_recipe(recipe, recipe_path) if recipe else {}
    final = _records_file(root) or previous
    return RunData(
        name=str(parsed.get("name") or root.name),
        steps=steps,
        final=final,
        inputs=[i for i in parsed.get("inputs") or [] if isinstance(i, dict)],
        recipe=recipe,
        run_dir=root,
    )


def _load_outputs(paths: list[Path]) -> RunData:
    steps: list[StepRun] = []
    previous: Path | None = None
    for p in paths:
        summary_path = sidecar(p, "summary", ".json")
        if not summary_path.exists():
            raise InstructkitError(
                f"report: {p} has no summary file beside it ({summary_path.name}); "
                "give the outputs of instructkit commands"
            )
        summary = _read_json(summary_path)
        named = summary.get("steps") or {}
        if not named:  # convert writes no step entry: its funnel is the summary itself
            steps.append(StepRun("convert", "convert", _entry(summary, "convert"), p, previous))
        for i, step in enumerate(named):
            # Several steps in one command share its output; only the last one's records are there.
            last = i == len(named) - 1
            steps.append(StepRun(step, step, _entry(summary, step), p if last else None))
            steps[-1].input = previous
        previous = p
    seen: Counter[str] = Counter(s.label for s in steps)
    for i, s in enumerate(steps):  # a step run twice is told apart by its position
        if seen[s.label] > 1:
            s.label = f"{i + 1}. {s.label}"
    return RunData(name=paths[-1].parent.name or "dataset", steps=steps, final=paths[-1])


def _entry(summary: dict[str, Any], step: str) -> dict[str, Any]:
    """The step's entry, with the funnel keys filled from the command's own summary when absent."""
    entry = dict((summary.get("steps") or {}).get(step) or {})
    entry.setdefault("step", step)
    for key in ("records_in", "records_out", "generated"):
        entry.setdefault(key, summary.get(key, 0))
    entry.setdefault("rejected", summary.get("rejected", {}))
    # A step's own statistics may hold a "seconds" breakdown; the funnel wants its total.
    total = (summary.get("seconds") or {}).get(step)
    if not isinstance(entry.get("seconds"), int | float) and isinstance(total, int | float):
        entry["seconds_detail"] = entry.get("seconds")
        entry["seconds"] = total
    return entry


def _funnel(path: Path) -> list[dict[str, Any]]:
    """``summary.json`` of a run: a list of step entries, or ``{"steps": [...] | {...}}``."""
    if not path.exists():
        return []
    data = _read_json(path)
    steps = data.get("steps", data) if isinstance(data, dict) else data
    if isinstance(steps, dict):
        steps = [dict(v, step=v.get("step", k)) for k, v in steps.items()]
    return [s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []


def _funnel_entry(funnel: list[dict[str, Any]], step: str, index: int) -> dict[str, Any]:
    if index < len(funnel) and funnel[index].get("step") == step:
        return funnel[index]
    return next((e for e in funnel if e.get("step") == step), {"step": step})


def _records_file(folder: Path) -> Path | None:
    for suffix in RECORD_SUFFIXES:
        path = folder / f"data{suffix}"
        if path.exists():
            return path
    return None


def _read_json(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as e:
        raise InstructkitError(f"report: {path}: not valid JSON ({e})") from None


def _parse_recipe(text: str, path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise InstructkitError(f"report: {path}: not valid YAML ({e})") from None
    return data if isinstance(data, dict) else {}


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a sidecar file; a damaged line (a killed run) is skipped, not fatal."""
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(row, dict):
                    yield row
