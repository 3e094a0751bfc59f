"""Shared helpers for the scoring benchmarks: locate ../shared/data and read it as records."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pyarrow as pa

from instructkit.accounting import RunLog
from instructkit.io.read import read_tables

ROOT = Path(__file__).resolve().parents[1]


def shared_data() -> Path:
    """The third-party data folder, or exit with a clear message (benchmarks need real data)."""
    env = os.environ.get("INSTRUCTKIT_SHARED_DATA")
    for c in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "data"]:
        if (c / "instructions").is_dir():
            return c.resolve()
    sys.exit("error: ../shared/data is absent (set INSTRUCTKIT_SHARED_DATA)")


def read(name: str) -> pa.Table:
    """All records of one dataset folder under shared/data/instructions."""
    with RunLog(None, None) as log:
        tables = list(read_tables([str(shared_data() / "instructions" / name)], log))
    return pa.concat_tables(tables)
