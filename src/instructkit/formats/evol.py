"""WizardLM Evol-Instruct: V1 is Alpaca-like, V2 is ShareGPT-like, the test set is
``{idx, Skill, Difficulty, Instruction}`` (an instruction without a response)."""

from __future__ import annotations

from typing import Any

from instructkit.errors import RowError
from instructkit.formats import alpaca, sharegpt
from instructkit.formats.base import Format, Row, make_record, text_field
from instructkit.schema import Record


def detect(row: Any) -> bool:
    return isinstance(row, dict) and "Instruction" in row and "instruction" not in row


def parse(row: Row, source: str) -> list[Record]:
    if not isinstance(row, dict):
        raise RowError("wrong_type", f"expected a JSON object, got {type(row).__name__}")
    if "conversations" in row:
        return sharegpt.parse(row, source)
    if "instruction" in row:
        return alpaca.parse(row, source)
    instruction = text_field(row, "Instruction", allow_empty=False)
    messages = [{"role": "user", "content": instruction}]
    output = text_field(row, "Output", required=False) or text_field(row, "output", required=False)
    if output:
        messages.append({"role": "assistant", "content": output})
    return [make_record(row, source, messages, ("Instruction", "Output", "output"))]


FORMAT = Format("evol", detect, parse, None)
