"""Run steps over record batches on this machine, streaming wherever the steps allow.

Per-batch steps stream: each batch goes through every step in turn.  A
:class:`~instructkit.steps.base.GlobalStep` splits the stream: its input is
observed batch by batch while it is spilled to a temporary Parquet file
beside the output, the step decides once over the small features, and the
spill is streamed back through ``apply``.  Memory holds the features and one
batch, never the whole dataset.
"""

from __future__ import annotations

import gc
import resource
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from instructkit.accounting import (
    RunLog,
    check_paths,
    output_lock,
    sidecar,
    sidecar_paths,
    temp_path,
)
from instructkit.io.read import ReadOptions, read_batches, read_tables
from instructkit.io.sources import resolve
from instructkit.io.write import RecordWriter
from instructkit.schema import Record, conform
from instructkit.steps.base import Decision, GlobalStep, Step, StepResult, merge_stats

Progress = Callable[[int], None]


@dataclass
class StepLog:
    """One step's share of a run: its own funnel and its statistics, merged over batches."""

    step: Step
    batch_size: int = 5000
    records_in: int = 0
    records_out: int = 0
    generated: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)

    def add(self, result: StepResult, log: RunLog) -> None:
        self.records_out += result.kept.num_rows
        self.generated += result.generated
        log.generated += result.generated
        for rej in result.rejects:
            log.reject(rej)
            self.rejected[rej.reason] = self.rejected.get(rej.reason, 0) + 1
        for kind, rows in result.sidecars.items():
            log.write_sidecar(kind, rows)
        self.stats = merge_stats(self.stats, result.stats)

    def decide(self, features: list[pa.Table], log: RunLog) -> Decision:
        """A global step's one decision over every batch's features, its figures and evidence logged."""
        step = self.step
        assert isinstance(step, GlobalStep)
        with log.timed(step.name):
            decision = step.decide(pa.concat_tables(features))
        self.stats = merge_stats(self.stats, decision.stats)
        for kind, rows in decision.sidecars.items():
            log.write_sidecar(kind, rows)
        return decision

    def summary(self, seconds: float) -> dict[str, Any]:
        """The step's entry in a summary: config, funnel, its statistics and facts."""
        # The funnel's own fields come last: a step's statistic never overwrites them.
        return (
            self.step.describe(self.stats)
            | self.step.info()
            | {
                "step": self.step.name,
                "config": self.step.config.public_mapping(),
                "records_in": self.records_in,
                "records_out": self.records_out,
                "generated": self.generated,
                "rejected": dict(sorted(self.rejected.items())),
                "seconds": round(seconds, 4),
            }
        )


def apply_step(
    step: Step, batches: Iterator[pa.Table], log: RunLog, slog: StepLog
) -> Iterator[pa.Table]:
    """Feed batches through one step, logging its rejects, sidecar rows and statistics."""
    if isinstance(step, GlobalStep):
        yield from _apply_global(step, batches, log, slog)
        return
    for table in batches:
        slog.records_in += table.num_rows
        with log.timed(step.name):
            result = step.process(table)
        slog.add(result, log)
        if result.kept.num_rows:
            yield result.kept


def _apply_global(
    step: GlobalStep, batches: Iterator[pa.Table], log: RunLog, slog: StepLog
) -> Iterator[pa.Table]:
    """Observe and spill every batch, decide once, then stream the spill back through ``apply``."""
    spill = temp_path(
        (log.summary_path or log.rejects_path or Path("instructkit")).with_suffix(".spill.parquet")
    )
    features: list[pa.Table] = []
    writer: pq.ParquetWriter | None = None
    try:
        for table in batches:
            table = conform(table)
            slog.records_in += table.num_rows
            with log.timed(step.name):
                features.append(step.observe(table))
            slog.stats = merge_stats(slog.stats, step.observed())
            writer = writer or pq.ParquetWriter(spill, table.schema)
            writer.write_table(table)
        if writer is None:
            return
        writer.close()
        writer = None
        decision = slog.decide(features, log)
        features.clear()
        offset = 0
        for batch in pq.ParquetFile(spill).iter_batches(batch_size=slog.batch_size):
            table = pa.Table.from_batches([batch])
            with log.timed(step.name):
                result = step.apply(table, decision, offset)
            offset += table.num_rows
            slog.add(result, log)
            if result.kept.num_rows:
                yield result.kept
    finally:
        if writer is not None:
            writer.close()
        spill.unlink(missing_ok=True)


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
    """Read ``inputs``, apply ``steps`` in order, write ``output`` and its rejects, summary and sidecar files."""
    default_rejects, default_summary = sidecar_paths(output)
    rejects, summary = rejects or default_rejects, summary or default_summary
    kinds = {kind: sidecar(output, kind) for s in steps for kind in s.sidecars}
    files = [s.path for s in resolve(inputs) if s.kind != "hf"]
    check_paths(output, rejects, summary, files, extra=kinds)
    # A folder input holding OUTPUT (a rerun of `convert DIR -o DIR/all.jsonl`) must not read it back.
    read_options = replace(
        read_options or ReadOptions(), exclude=(output, rejects, summary, *kinds.values())
    )
    logs = [StepLog(s, read_options.batch_size) for s in steps]
    with (
        output_lock(output),
        _gc_paused(),
        RunLog(rejects, summary, strict=strict, sidecar_paths=kinds) as log,
    ):
        log.extra.update(extra or {})
        log.extra.update({f"{kind}_file": str(path) for kind, path in kinds.items()})
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
            for step, slog in zip(steps, logs):
                stream = apply_step(step, stream, log, slog)
            for batch in stream:
                with log.timed("write"):
                    log.records_out += writer.write(batch)
                if progress:
                    progress(log.records_in)
        log.extra["steps"] = {
            sl.step.name: sl.summary(log.seconds.get(sl.step.name, 0.0)) for sl in logs
        }
        log.extra["output"] = str(output)
        # The process's high-water mark so far: in a recipe, where a step raised it shows.
        log.extra["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return log.summary()
