"""Read and check a YAML recipe: every problem is one line naming the file, the line and the choices.

A recipe is checked whole before anything runs: unknown keys, steps and
options, wrong types and missing inputs all fail here, with the line they sit
on, so a typo in the last step never costs a run of the first ones.  Each step
is built from its config (``Step.from_config``), the same way the command line
builds it, so a recipe step and a command with the same options are the same
step.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from instructkit.errors import InstructkitError
from instructkit.steps import REGISTRY, get_step
from instructkit.steps.base import Step
from instructkit.steps.config import StepConfig

TOP_KEYS = ("name", "inputs", "output", "format", "engine", "steps")
INPUT_KEYS = ("path", "source", "license", "format")
#: Final record formats: our own records (JSONL or Parquet), or a format `convert --to` writes.
FORMATS = ("jsonl", "parquet", "alpaca", "sharegpt", "openai", "dolly")
ENGINES = ("local", "ray")


class ReportConfig(StepConfig):
    """The recipe's ``report:`` step: it reads the finished run directory, so it comes last."""

    html: str = Field("report.html", description="The page, in the run directory.")
    card: str | None = Field(
        "README.md", description="The dataset card, in the run directory (null: none)."
    )


#: Steps that read the whole run directory rather than records (run after the record steps).
RUN_STEPS = {"report": ReportConfig}


@dataclass(frozen=True)
class InputSpec:
    path: str
    source: str | None = None
    license: str | None = None
    format: str = "auto"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass
class Recipe:
    file: Path
    name: str
    inputs: list[InputSpec]
    output: Path
    format: str = "jsonl"
    engine: str = "local"
    steps: list[Step] = field(default_factory=list)
    report: ReportConfig | None = None

    def filled(self) -> dict[str, Any]:
        """The recipe as run, every default filled in (written to ``OUT/recipe.yaml``)."""
        return {
            "name": self.name,
            "inputs": [i.as_dict() for i in self.inputs],
            "output": str(self.output),
            "format": self.format,
            "engine": self.engine,
            "steps": [{s.name: s.config.public_mapping()} for s in self.steps]
            + ([{"report": self.report.public_mapping()}] if self.report else []),
        }


class _Doc:
    """The parsed YAML and its node tree, to say which line a value came from."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InstructkitError(f"{path}: no such recipe file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise InstructkitError(f"{path}: cannot read the recipe ({e})") from None
        try:
            loader = yaml.SafeLoader(text)
            try:
                self.node = loader.get_single_node()
                self.data = loader.construct_document(self.node) if self.node is not None else None
            finally:
                loader.dispose()
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark else str(path)
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise InstructkitError(f"{where}: not valid YAML: {problem}") from None

    def line(self, *keys: str | int) -> int:
        """The line of the value at ``keys`` (a key's own line for mappings), 1-based."""
        node = self.node
        for depth, key in enumerate(keys, 1):
            if isinstance(node, yaml.MappingNode):
                match = next((kv for kv in node.value if kv[0].value == key), None)
                if match is None:
                    break
                node = match[0] if depth == len(keys) else match[1]
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(key, int)
                and key < len(node.value)
            ):
                node = node.value[key]
            else:
                break
        return node.start_mark.line + 1 if node is not None else 1

    def fail(self, message: str, *keys: str | int) -> InstructkitError:
        return InstructkitError(f"{self.path}:{self.line(*keys)}: {message}")


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    near = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean '{near[0]}'? " if near else ""


def _choice(doc: _Doc, value: Any, choices: tuple[str, ...], what: str, *keys: str | int) -> str:
    if value not in choices:
        raise doc.fail(f"{what} '{value}' is not one of {', '.join(choices)}", *keys)
    return str(value)


def load(path: Path) -> Recipe:
    """Parse, check and build a recipe; relative paths are relative to the recipe's folder."""
    path = Path(path)
    doc = _Doc(path)
    data = doc.data
    if not isinstance(data, dict):
        raise doc.fail("a recipe is a mapping with inputs, output and steps")
    for key in data:
        if key not in TOP_KEYS:
            raise doc.fail(
                f"unknown key '{key}': {_suggest(str(key), TOP_KEYS)}keys are {', '.join(TOP_KEYS)}",
                key,
            )
    base = path.parent
    for key in ("inputs", "output"):
        if key not in data:
            raise doc.fail(f"the recipe needs '{key}'")
    output = data["output"]
    if not isinstance(output, str) or not output:
        raise doc.fail("'output' is the run directory: a path", "output")
    steps_data = data.get("steps") or []
    if not isinstance(steps_data, list):
        raise doc.fail("'steps' is a list of steps, each `- NAME: {options}`", "steps")
    report = None
    if steps_data and _name(steps_data[-1]) == "report":
        report = _report(doc, steps_data[-1], len(steps_data) - 1)
        steps_data = steps_data[:-1]
    return Recipe(
        file=path,
        name=str(data.get("name") or path.stem),
        inputs=_inputs(doc, data["inputs"], base),
        output=_resolve(base, output),
        format=_choice(doc, data.get("format", "jsonl"), FORMATS, "format", "format"),
        engine=_choice(doc, data.get("engine", "local"), ENGINES, "engine", "engine"),
        steps=[_step(doc, item, i, base) for i, item in enumerate(steps_data)],
        report=report,
    )


def _name(item: Any) -> Any:
    return (
        item
        if isinstance(item, str)
        else next(iter(item), None)
        if isinstance(item, dict)
        else None
    )


def _report(doc: _Doc, item: Any, i: int) -> ReportConfig:
    options = (item.get("report") if isinstance(item, dict) else None) or {}
    try:
        return ReportConfig.from_config(options)
    except InstructkitError as e:
        raise doc.fail(f"step 'report': {e}", "steps", i) from None


def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return Path(os.path.normpath(p if p.is_absolute() else base / p))


def _inputs(doc: _Doc, raw: Any, base: Path) -> list[InputSpec]:
    if not isinstance(raw, list) or not raw:
        raise doc.fail(
            "'inputs' is a list of paths (or mappings with path, source, license)", "inputs"
        )
    out = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            item = {"path": item}
        if not isinstance(item, dict) or "path" not in item:
            raise doc.fail("each input is a path or a mapping with 'path'", "inputs", i)
        for key in item:
            if key not in INPUT_KEYS:
                hint = _suggest(str(key), INPUT_KEYS)
                raise doc.fail(
                    f"unknown input key '{key}': {hint}keys are {', '.join(INPUT_KEYS)}",
                    "inputs",
                    i,
                )
        for key, value in item.items():
            if not isinstance(value, str):
                raise doc.fail(
                    f"input '{key}' must be text, got {type(value).__name__}", "inputs", i
                )
        location = item["path"]
        if not location.startswith("hf:"):
            resolved = _resolve(base, location)
            if not resolved.exists():
                raise doc.fail(
                    f"input '{location}' does not exist (looked for {resolved})", "inputs", i
                )
            location = str(resolved)
        out.append(
            InputSpec(location, item.get("source"), item.get("license"), item.get("format", "auto"))
        )
    return out


def _step(doc: _Doc, item: Any, i: int, base: Path) -> Step:
    if isinstance(item, str):
        item = {item: {}}
    if not isinstance(item, dict) or len(item) != 1:
        raise doc.fail("each step is `- NAME: {options}` with one name", "steps", i)
    ((name, options),) = item.items()
    choices = sorted([*REGISTRY, *RUN_STEPS])
    if name in RUN_STEPS:
        raise doc.fail(f"'{name}' reads the finished run: put it last", "steps", i)
    if name not in REGISTRY:
        raise doc.fail(
            f"unknown step '{name}': {_suggest(str(name), choices)}steps are {', '.join(choices)}",
            "steps",
            i,
        )
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise doc.fail(f"the options of '{name}' are a mapping of option: value", "steps", i)
    try:
        return get_step(name).from_config(options, base=base)
    except InstructkitError as e:
        key = re.match(r"(?:unknown )?option '([^']+)'", str(e))
        option = next(
            (
                k
                for k in options
                if key and str(k).replace("_", "-") == key.group(1).replace("_", "-")
            ),
            None,
        )
        keys: tuple[str | int, ...] = (
            ("steps", i, name, option) if option is not None else ("steps", i)
        )
        raise doc.fail(f"step '{name}': {e}", *keys) from None
