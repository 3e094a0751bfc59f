"""One command per registered step, its options made from the step's config.

The command line only maps flags onto the config: each config field becomes a
long option (``num_perm`` -> ``--num-perm``; a bool -> ``--x/--no-x``; a list
-> a repeatable option that also takes a comma list), with the field's
default and description.  A default is therefore written once, in the config,
and a new step gets its command by being registered.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic.fields import FieldInfo

from instructkit.cli.common import Common, Inputs, Output, common_options, run_steps
from instructkit.steps import REGISTRY, get_step
from instructkit.steps.base import Step
from instructkit.steps.config import field_kind

#: What a command prints after its summary table, by step name ("module:function" taking the summary).
AFTER: dict[str, str] = {"evolve": "instructkit.cli.evolve:print_rounds"}


def option(name: str, info: FieldInfo, kind: type) -> inspect.Parameter:
    """The typer option for one config field."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    flag = "--" + name.replace("_", "-")
    flags: list[str] = list(extra.get("flags", [flag]))  # type: ignore[arg-type]
    help_text = info.description or ""
    default: Any = None if info.is_required() else info.default
    annotation: Any
    if kind is bool:
        negative = extra.get("negative", "--no-" + flag[2:])
        flags = [f"{flags[-1]}/{negative}"]
        annotation = bool
    elif kind is list:
        annotation = list[str] | None
        help_text += " Repeatable" + (", or a comma list." if extra.get("comma", True) else ".")
        default = None
    elif kind in (int, float, str, Path):
        annotation = kind if default is not None else kind | None
    else:
        annotation = str | None
    if typing.get_origin(info.annotation) is typing.Literal:
        help_text += f" One of: {', '.join(map(str, typing.get_args(info.annotation)))}."
    show = default if kind is not list else _shown(info.default)
    opt = typer.Option(
        *flags, help=help_text, show_default=show if show not in (None, "") else False
    )
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[annotation, opt]
    )


def _shown(default: Any) -> str:
    return ",".join(map(str, default)) if isinstance(default, tuple | list) else ""


def step_command(
    app: typer.Typer, step_cls: type[Step], after: Callable[[dict[str, Any]], None] | None
) -> None:
    """Register ``instructkit NAME INPUT... -o OUTPUT [options]`` for one step."""
    config_cls = step_cls.Config
    fields = config_cls.model_fields
    kinds = {name: field_kind(config_cls, name) for name in fields}

    def command(inputs: list[str], output: Path, common: Common, **values: Any) -> None:
        given: dict[str, Any] = {}
        for name, value in values.items():
            if value is None:
                continue
            if kinds[name] is list and _commas(fields[name]):
                value = [part.strip() for v in value for part in v.split(",") if part.strip()]
            given[name] = value
        step = step_cls(config_cls.from_config(given), output=output)
        result = run_steps(inputs, output, [step], common)
        if after:
            after(result)

    params = [
        inspect.Parameter("inputs", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Inputs),
        inspect.Parameter("output", inspect.Parameter.KEYWORD_ONLY, annotation=Output),
        *(option(name, info, kinds[name]) for name, info in fields.items()),
        inspect.Parameter("common", inspect.Parameter.KEYWORD_ONLY, annotation=Common),
    ]
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = (step_cls.__doc__ or "").strip().split("\n\n")[0]
    app.command(name=step_cls.name)(common_options(batch_size=step_cls.batch_size)(command))


def _commas(info: FieldInfo) -> bool:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return bool(extra.get("comma", True))


def register(app: typer.Typer) -> None:
    for name in REGISTRY:
        after = None
        if name in AFTER:
            module, _, func = AFTER[name].partition(":")
            after = getattr(importlib.import_module(module), func)
        step_command(app, get_step(name), after)
