"""Shapes that are not a named chat format but are common in the wild.

- ``text``: a bare JSON string per line (prompt lists such as OASST's prompt lottery);
- ``prompt``: ``{prompt, response}`` (IFEval-style outputs), response optional;
- ``self_instruct``: ``{instruction, instances: [{input, output}]}``; each
  instance becomes a record, ``ID/k`` when a task has more than one.
"""

from __future__ import annotations

from typing import Any

from instructkit.errors import RowError
from instructkit.formats.base import (
    Format,
    Row,
    join_input,
    list_field,
    make_record,
    source_id,
    text_field,
)
from instructkit.schema import Record


def detect_text(row: Any) -> bool:
    return isinstance(row, str)


def parse_text(row: Any, source: str) -> list[Record]:
    if not isinstance(row, str):
        raise RowError("wrong_type", f"expected a JSON string, got {type(row).__name__}")
    return [make_record({}, source, [{"role": "user", "content": row}], ())]


def detect_prompt(row: Any) -> bool:
    return (
        isinstance(row, dict)
        and "prompt" in row
        and isinstance(row["prompt"], str)
        and "instruction" not in row
    )


def parse_prompt(row: Row, source: str) -> list[Record]:
    if not isinstance(row, dict):
        raise RowError("wrong_type", f"expected a JSON object, got {type(row).__name__}")
    messages = [{"role": "user", "content": text_field(row, "prompt")}]
    response = text_field(row, "response", required=False)
    if response:  # no, null or "" response: an instruction-only record
        messages.append({"role": "assistant", "content": response})
    # An empty response stays in meta, so the row is kept as it was.
    return [make_record(row, source, messages, ("prompt", "response") if response else ("prompt",))]


def detect_self_instruct(row: Any) -> bool:
    return isinstance(row, dict) and "instruction" in row and isinstance(row.get("instances"), list)


def parse_self_instruct(row: Row, source: str) -> list[Record]:
    if not isinstance(row, dict):
        raise RowError("wrong_type", f"expected a JSON object, got {type(row).__name__}")
    instruction = text_field(row, "instruction", allow_empty=False)
    instances = list_field(row, "instances")
    if not instances:
        raise RowError("empty_conversation", "'instances' is empty: no input/output pair")
    base_id = source_id(row)
    records = []
    for k, inst in enumerate(instances):
        if not isinstance(inst, dict):
            raise RowError(
                "wrong_type", f"instances[{k}] is {type(inst).__name__}, expected an object"
            )
        inp = text_field(inst, "input", required=False)
        out = text_field(inst, "output")
        messages = [
            {"role": "user", "content": join_input(instruction, inp)},
            {"role": "assistant", "content": out},
        ]
        meta_row = {key: v for key, v in row.items() if key != "instances"} | {
            "input": inp,
            "instance": k,
        }
        rid = base_id if base_id is None or len(instances) == 1 else f"{base_id}/{k}"
        records.append(make_record(meta_row, source, messages, ("instruction",), record_id=rid))
    return records


TEXT = Format("text", detect_text, parse_text, None)
PROMPT = Format("prompt", detect_prompt, parse_prompt, None)
SELF_INSTRUCT = Format("self_instruct", detect_self_instruct, parse_self_instruct, None)
