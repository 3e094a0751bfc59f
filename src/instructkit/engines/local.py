"""Run steps over record batches on this machine, streaming wherever the steps allow."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from instructkit.accounting import RunLog, check_paths, output_lock, sidecar_paths
from instructkit.io.read import ReadOptions, read_batches, read_tables
from instructkit.io.sources import resolve
from instructkit.io.write import RecordWriter
from instructkit.schema import Record
from instructkit.steps.base import Step

Progress = Callable[[int], None]


def apply_step(step: Step, batches: Iterator[pa.Table], log: RunLog) -> Iterator[pa.Table]:
    """Feed batches through one step, logging its rejects; a ``needs_all`` step sees one table."""
    if step.needs_all:
        tables = list(batches)
        if not tables:
            return
        batches = iter([pa.concat_tables(tables)])
    for table in batches:
        with log.timed(step.name):
            result = step.process(table)
        log.generated += result.generated
        for rej in result.rejects:
            log.reject(rej)
        if result.kept.num_rows:
            yield result.kept


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Records are acyclic dicts and lists, so the cyclic collector finds nothing in them,
    yet it rescans every live record each time allocations pile up: pausing it for the run
    makes a large conversion about a third faster (benchmarks/bench_convert.py)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def run(
    inputs: list[str],
    output: Path,
    steps: list[Step],
    *,
    to: str | None = None,
    read_options: ReadOptions | None = None,
    rejects: Path | None = None,
    summary: Path | None = None,
    strict: bool = False,
    progress: Progress | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Read ``inputs``, apply ``steps`` in order, write ``output`` and its rejects and summary files."""
    default_rejects, default_summary = sidecar_paths(output)
    rejects, summary = rejects or default_rejects, summary or default_summary
    files = [s.path for s in resolve(inputs) if s.kind != "hf"]
    check_paths(output, rejects, summary, files)
    # A folder input holding OUTPUT (a rerun of `convert DIR -o DIR/all.jsonl`) must not read it back.
    read_options = replace(read_options or ReadOptions(), exclude=(output, rejects, summary))
    with (
        output_lock(output),
        _gc_paused(),
        RunLog(rejects, summary, strict=strict) as log,
    ):
        log.extra.update(extra or {})
        with RecordWriter(output, to, on_reject=log.reject) as writer:
            for step in steps:
                with log.timed(step.name):
                    step.setup()
            # A plain conversion streams records straight through; steps work on Arrow tables.
            stream: Iterator[pa.Table] | Iterator[list[Record]]
            stream = (
                read_tables(inputs, log, read_options)
                if steps
                else read_batches(inputs, log, read_options)
            )
            for step in steps:
                stream = apply_step(step, stream, log)
            for batch in stream:
                with log.timed("write"):
                    log.records_out += writer.write(batch)
                if progress:
                    progress(log.records_in)
        log.extra["steps"] = {s.name: s.summary() for s in steps if s.summary()}
        log.extra["output"] = str(output)
    return log.summary()
