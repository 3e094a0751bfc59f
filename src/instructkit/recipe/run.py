"""Run a recipe into its run directory, one numbered folder per step, resuming where it stopped.

Each step reads the previous step's ``data.parquet`` and writes its own, with
its rejects, summary and evidence files beside it, through the same engine
call as the step's command, so a recipe gives, step for step, the records the
commands give.  A step's ``.done`` marker is written last and holds the hash
of its name, its effective config and its input (the previous marker, or the
inputs' fingerprint): a rerun skips every step whose marker matches and starts
at the first that does not, so a killed run resumes and a changed option
reruns that step and those after it.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml

from instructkit import __version__
from instructkit.accounting import atomic_open, sidecar_paths
from instructkit.engines import local
from instructkit.io.read import ReadOptions
from instructkit.recipe.load import Recipe
from instructkit.steps.base import Step

DATA = "data.parquet"
DONE = ".done"
CONVERT = "convert"
#: Final file name and ``convert --to`` format for each recipe ``format``.
FINAL = {
    "jsonl": ("data.jsonl", None),
    "parquet": ("data.parquet", None),
    "alpaca": ("data.jsonl", "alpaca"),
    "sharegpt": ("data.jsonl", "sharegpt"),
    "openai": ("data.jsonl", "openai"),
    "dolly": ("data.jsonl", "dolly"),
}


@dataclass
class Planned:
    """One folder of the run: the step (None for the first, the conversion of the inputs) and its key."""

    folder: Path
    step: Step | None
    key: str

    @property
    def done(self) -> bool:
        marker = self.folder / DONE
        return (
            marker.is_file()
            and marker.read_text().strip() == self.key
            and (self.folder / DATA).is_file()
        )


def _hash(payload: Any) -> str:
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


def fingerprint(recipe: Recipe) -> str:
    """What the inputs are: each input's options and, for local files, every file's size and mtime."""
    parts: list[Any] = []
    for spec in recipe.inputs:
        files: list[Any] = []
        path = Path(spec.path)
        if not spec.path.startswith("hf:"):
            found = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
            files = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in found]
        parts.append({"input": spec.as_dict(), "files": files})
    return _hash({"inputs": parts, "version": __version__})


def plan(recipe: Recipe) -> list[Planned]:
    """The run's folders in order, each with the key its ``.done`` marker must hold to be skipped."""
    upstream = fingerprint(recipe)
    out = [
        Planned(recipe.output / f"00-{CONVERT}", None, _hash({"step": CONVERT, "input": upstream}))
    ]
    for i, step in enumerate(recipe.steps, 1):
        key = _hash({"step": step.name, "config": step.config.to_mapping(), "input": out[-1].key})
        out.append(Planned(recipe.output / f"{i:02d}-{step.name}", step, key))
    return out


def describe_plan(recipe: Recipe) -> list[str]:
    """``--dry-run``: one line per folder, saying whether it would run or be skipped."""
    lines = [
        f"recipe {recipe.file} -> {recipe.output} (engine {recipe.engine}, format {recipe.format})"
    ]
    rerun = False
    for p in plan(recipe):
        rerun = rerun or not p.done
        what = "run" if rerun else "skip (done)"
        changed = (
            {} if p.step is None else p.step.config.model_dump(mode="json", exclude_defaults=True)
        )
        options = " " + orjson.dumps(changed).decode() if changed else ""
        lines.append(f"  {p.folder.name:<20} {what}{options}")
    final, to = FINAL[recipe.format]
    lines.append(f"  {final:<20} {'write' if to is None else f'write as {to}'}")
    if recipe.report is not None:
        card = f" and {recipe.report.card}" if recipe.report.card else ""
        lines.append(f"  {recipe.report.html:<20} write{card}")
    return lines


Runner = Callable[..., dict[str, Any]]
#: Given a folder name, a context yielding the function the engine calls with records read so far.
StepProgress = Callable[[str], AbstractContextManager[Callable[[int], None] | None]]


def run_recipe(
    recipe: Recipe,
    *,
    progress: Callable[[str], None] | None = None,
    step_progress: StepProgress | None = None,
    runner: Runner = local.run,
) -> dict[str, Any]:
    """Run (or resume) the recipe; returns the funnel written to ``OUT/summary.json``."""
    out = recipe.output
    out.mkdir(parents=True, exist_ok=True)
    with atomic_open(out / "recipe.yaml") as fh:
        fh.write(yaml.safe_dump(recipe.filled(), sort_keys=False, allow_unicode=True).encode())
    started = time.perf_counter()
    previous: Path | None = None
    entries = []
    for p in plan(recipe):
        if p.done:
            if progress:
                progress(f"{p.folder.name}: done, skipped")
        else:
            if progress:
                progress(f"{p.folder.name}: running")
            with step_progress(p.folder.name) if step_progress else nullcontext(None) as tick:
                _run_one(recipe, p, previous, runner, tick)
        entries.append(_entry(p))
        previous = p.folder / DATA
    assert previous is not None
    final_name, to = FINAL[recipe.format]
    final = out / final_name
    if final != previous:
        export = (
            out / "export.jsonl"
        )  # its rejects and summary: export.rejects.jsonl, export.summary.json
        rejects, summary = sidecar_paths(export)
        runner(
            [str(previous)],
            final,
            [],
            to=to,
            read_options=ReadOptions(fmt="records"),
            rejects=rejects,
            summary=summary,
        )
    funnel = _funnel(recipe, entries, time.perf_counter() - started)
    with atomic_open(out / "summary.json") as fh:
        fh.write(orjson.dumps(funnel, option=orjson.OPT_INDENT_2))
    if recipe.report is not None:
        from instructkit.report import write_report

        if progress:
            progress(f"report: writing {recipe.report.html}")
        card = out / recipe.report.card if recipe.report.card else None
        write_report(
            out, out / recipe.report.html, card, recipe.name, [i.as_dict() for i in recipe.inputs]
        )
    return funnel


def _run_one(
    recipe: Recipe,
    p: Planned,
    previous: Path | None,
    runner: Runner,
    tick: Callable[[int], None] | None,
) -> None:
    """Run one step into a clean folder; the ``.done`` marker is the last file written."""
    if p.folder.exists():
        shutil.rmtree(p.folder)
    p.folder.mkdir(parents=True)
    if p.step is None:
        inputs = [i.path for i in recipe.inputs]
        options = ReadOptions(
            sources={i.path: i.source for i in recipe.inputs if i.source},
            formats={i.path: i.format for i in recipe.inputs if i.format != "auto"},
        )
        steps: list[Step] = []
    else:
        assert previous is not None
        inputs, options, steps = (
            [str(previous)],
            ReadOptions(fmt="records", batch_size=p.step.batch_size),
            [p.step],
        )
        p.step.output = p.folder / DATA
    runner(inputs, p.folder / DATA, steps, read_options=options, progress=tick)
    with atomic_open(p.folder / DONE) as fh:
        fh.write(p.key.encode())


def _entry(p: Planned) -> dict[str, Any]:
    """The folder's line in the funnel, from the summary its step wrote."""
    summary = orjson.loads(sidecar_paths(p.folder / DATA)[1].read_bytes())
    name = CONVERT if p.step is None else p.step.name
    step = summary.get("steps", {}).get(name, {})
    return {
        "folder": p.folder.name,
        "step": name,
        "config": step.get("config", {}),
        "records_in": summary["records_in"],
        "records_out": summary["records_out"],
        "generated": summary.get("generated", 0),
        "rejected": summary["rejected"],
        "seconds": summary["seconds"].get("total", 0.0),
        "peak_rss_mb": summary.get("peak_rss_mb"),
        "stats": {k: v for k, v in step.items() if k not in ("step", "config", "records_in", "records_out",
                                                            "generated", "rejected", "seconds")},
    }  # fmt: skip


def _funnel(recipe: Recipe, entries: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    rejected: dict[str, int] = {}
    for e in entries:
        for reason, n in e["rejected"].items():
            rejected[reason] = rejected.get(reason, 0) + n
    records_in = entries[0]["records_in"]
    generated = sum(e["generated"] for e in entries)
    records_out = entries[-1]["records_out"]
    return {
        "name": recipe.name,
        "inputs": [i.as_dict() for i in recipe.inputs],
        "records_in": records_in,
        "records_out": records_out,
        "generated": generated,
        "rejected": dict(sorted(rejected.items())),
        "rejected_total": sum(rejected.values()),
        "balanced": records_in + generated == records_out + sum(rejected.values()),
        "steps": entries,
        "seconds": {e["folder"]: e["seconds"] for e in entries} | {"total": round(seconds, 4)},
        "version": __version__,
    }
