"""One config per step: every option, its default and its check in one place.

A step's config is a pydantic model whose fields are the command's long
options (``num_perm`` is ``--num-perm`` on the command line and ``num-perm`` or
``num_perm`` in a recipe).  The command line, recipes and the Python API all
build it through :meth:`StepConfig.from_config`, so a default is written once,
an error names the option (never a ``--flag`` or a Python type), and the
effective config round-trips into summaries and ``recipe.yaml``
(distilabel's "the step is its config").
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from instructkit.errors import InstructkitError
from instructkit.llm.client import safe_url


class StepConfig(BaseModel):
    """Base of every step config: unknown options are errors, values are checked on creation."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @classmethod
    def from_config(
        cls, mapping: Mapping[str, Any] | None = None, *, base: Path | None = None
    ) -> Self:
        """Build from a recipe mapping or command-line values.

        Keys may use ``-`` or ``_``; a list option also takes a comma string
        (``"exact,near"``); relative paths are resolved against ``base`` (the
        recipe's folder).  Every problem is an :class:`InstructkitError` naming
        the option and, where it helps, the valid choices.
        """
        values: dict[str, Any] = {}
        for key, value in (mapping or {}).items():
            name = str(key).replace("-", "_")
            if name not in cls.model_fields:
                raise InstructkitError(unknown_option(str(key), cls.option_names()))
            values[name] = cls._coerce(name, value, base)
        try:
            return cls(**values)
        except ValidationError as e:
            raise InstructkitError(describe_error(e)) from None

    @classmethod
    def option_names(cls) -> list[str]:
        return [n.replace("_", "-") for n in cls.model_fields]

    @classmethod
    def _coerce(cls, name: str, value: Any, base: Path | None) -> Any:
        if value is None:
            return None
        kind = field_kind(cls, name)
        if kind is list and isinstance(value, str):
            split = (cls.model_fields[name].json_schema_extra or {}).get("comma", True)
            return [v.strip() for v in value.split(",") if v.strip()] if split else [value]
        if kind is Path and isinstance(value, str | Path) and base is not None:
            path = Path(value).expanduser()
            return path if path.is_absolute() else base / path
        return value

    def to_mapping(self) -> dict[str, Any]:
        """The effective config as plain JSON values, keyed by option name: enough to build the
        same step again (an engine's workers do)."""
        return {k.replace("_", "-"): v for k, v in self.model_dump(mode="json").items()}

    def public_mapping(self) -> dict[str, Any]:
        """:meth:`to_mapping` for files people share (summaries, the run's recipe.yaml): server
        URLs without their user name and password."""
        return {
            k: safe_url(v) if k.endswith("url") and isinstance(v, str) else v
            for k, v in self.to_mapping().items()
        }


def field_kind(cls: type[BaseModel], name: str) -> type:
    """The field's value type with ``None`` stripped: ``list`` for sequences, else the class itself."""
    annotation = cls.model_fields[name].annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        return list
    if origin is typing.Literal:
        return str
    return annotation if isinstance(annotation, type) else object


def unknown_option(key: str, known: list[str]) -> str:
    near = difflib.get_close_matches(key.replace("_", "-"), known, n=1)
    hint = f"did you mean '{near[0]}'? " if near else ""
    return f"unknown option '{key}': {hint}options are {', '.join(known)}"


def describe_error(error: ValidationError) -> str:
    """pydantic's first error as one line naming the option: ``option 'threshold': ...``."""
    first = error.errors()[0]
    loc = [str(p) for p in first["loc"] if not isinstance(p, int)]
    option = loc[0].replace("_", "-") if loc else ""
    message = first["msg"]
    if first["type"] == "literal_error":
        expected = first.get("ctx", {}).get("expected", "")
        message = f"expected one of {expected}, got {first['input']!r}"
    elif first["type"] == "value_error":
        message = message.removeprefix("Value error, ")
    return f"option '{option}': {message}" if option else message
