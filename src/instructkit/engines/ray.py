"""Run a step on a Ray cluster with Ray Data, giving the files the local engine gives.

The input of a step (the previous step's ``data.parquet``) is cut into
partitions keyed by row offset, exactly the batches the local engine reads, so
per-batch statistics add up in the same order.  Each partition is read by a
worker from shared storage, never shipped by the driver.  Workers are
actor-pool callables that rebuild the step from its name and config and call
``setup()`` once per worker, so models load once per worker, not per batch.

A worker returns one row per partition: a pickled payload holding the kept
records (an Arrow table), the rejects, sidecar rows, statistics and facts, so
everything about a batch travels together and the driver writes it in input
order (``preserve_order``) through the same :class:`~instructkit.engines.local.StepLog`
as the local engine: same rejects file, same sidecar files, same summary.

A :class:`~instructkit.steps.base.GlobalStep` runs in two passes: ``observe``
in parallel, the small features gathered and ``decide``-d once on the driver,
the decision shared through the object store (``ray.put``), ``apply`` in
parallel.  Dedup decides in partitions on the cluster instead, with no text sent
to the driver (:mod:`instructkit.engines.ray_dedup`).  What a step's workers can
share as is (:meth:`~instructkit.steps.base.Step.shared`: benchmark indexes) is
built once by one task and read from the object store.  Conversion (no steps)
runs on the driver with the local engine.
"""

from __future__ import annotations

import logging
import os
import pickle
import resource
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from instructkit.accounting import (
    Reject,
    RunLog,
    check_paths,
    output_lock,
    sidecar,
    sidecar_paths,
)
from instructkit.engines import local
from instructkit.errors import InstructkitError
from instructkit.formats import records as records_format
from instructkit.io.read import ReadOptions, parse_row
from instructkit.io.rows import RawRow
from instructkit.io.sources import Source, resolve
from instructkit.io.write import RecordWriter
from instructkit.schema import conform, to_table
from instructkit.steps import get_step
from instructkit.steps.base import Decision, GlobalStep, Step, StepResult, merge_stats

#: Seconds to wait for a cluster's address to answer before giving up with one line.
CONNECT_TIMEOUT = 10.0
#: The object store of a local instance: bounded, since /dev/shm is often small and shared.
MAX_OBJECT_STORE = 2 * 1024**3


@contextmanager
def session(address: str | None = None) -> Iterator[None]:
    """Connect for the duration of a run: join ``address``, or start a local instance.

    Nested use (a recipe's steps) reuses the connection that is already open."""
    import ray

    if ray.is_initialized():
        yield
        return
    tmp = None if address else tempfile.mkdtemp(prefix="ik-ray-")
    # A local instance's daemons outlive a driver killed by SIGTERM unless the driver unwinds.
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _exit_on_term) if tmp and main else None
    try:
        _connect(address, tmp)
        yield
    finally:
        ray.shutdown()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _exit_on_term(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _connect(address: str | None, tmp: str | None) -> None:
    import ray
    import ray.data

    quiet = {"log_to_driver": False, "logging_level": logging.ERROR, "include_dashboard": False}
    # Ray's own chatter (plans, progress, C++ warnings) off; real failures still raise.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if address is not None:
        _reachable(address)
    try:
        with _stderr_to(f"{tmp}/init.log" if tmp else os.devnull):
            _init(address, tmp, quiet)
    except InstructkitError:
        raise
    except Exception as e:  # Ray raises ConnectionError, RuntimeError, TimeoutError, ...
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise InstructkitError(f"cannot start or join {where}: {_first_line(e)}") from None
    free = ray.available_resources().get("CPU", 0.0)
    if free < 1:
        total = ray.cluster_resources().get("CPU", 0.0)
        ray.shutdown()
        raise InstructkitError(
            f"the Ray cluster at {address} has no free CPU ({total:g} in all, all in use): "
            "wait for its jobs to finish or add nodes"
        )


@contextmanager
def _stderr_to(path: str) -> Iterator[None]:
    """Send file descriptor 2 to ``path`` for a moment: Ray's C++ core logs its start-up
    there, below Python's logging; failures still come back as exceptions."""
    saved = os.dup(2)
    with open(path, "ab") as fh:
        os.dup2(fh.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _init(address: str | None, tmp: str | None, quiet: dict[str, Any]) -> None:
    """Join ``address``, or start a local instance with its object store and spill folder set."""
    import ray

    if address is not None:
        ray.init(address=address, **quiet)
        return
    assert tmp is not None
    # Ray starts workers at nice 15 so its own daemons win; the local engine runs at 0, and on a
    # shared machine nice 15 would hand the CPU to everyone else.
    os.environ.setdefault("RAY_worker_niceness", "0")
    spill = {"type": "filesystem", "params": {"directory_path": f"{tmp}/spill"}}
    ray.init(
        num_cpus=os.cpu_count() or 1,
        object_store_memory=_store_size(),
        _temp_dir=tmp,
        _system_config={"object_spilling_config": orjson.dumps(spill).decode()},
        **quiet,
    )


def _store_size() -> int:
    """A quarter of the memory that is free now, at most 2 GiB (Ray spills the rest to disk)."""
    free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return max(128 * 1024**2, min(MAX_OBJECT_STORE, free // 4))


def _reachable(address: str) -> None:
    """Fail in seconds, with one line, when nothing answers at ``host:port`` (Ray itself retries for minutes)."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise InstructkitError(f"--ray-address '{address}': expected HOST:PORT or auto")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as e:
        raise InstructkitError(f"cannot reach the Ray cluster at {address}: {e}") from None


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


# --- workers -----------------------------------------------------------------------------


@dataclass
class Part:
    """What a worker sends back for one partition; pickled into a single binary cell."""

    #: Input rows read (``records_in``) and the records they gave (the step's input).
    records_in: int = 0
    rows: int = 0
    read_rejects: list[Reject] = field(default_factory=list)
    result: StepResult | None = None
    features: pa.Table | None = None
    observed: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


class _Worker:
    """An actor of the pool: rebuilds the step once, then handles one partition per call."""

    def __init__(
        self,
        name: str,
        config: dict[str, Any],
        output: str | None,
        path: str,
        options: ReadOptions,
        phase: str,
        decision: Any = None,
        shared: Any = None,
    ) -> None:
        import ray

        step = get_step(name).from_config(config, output=Path(output) if output else None)
        if isinstance(shared, ray.ObjectRef):
            shared = ray.get(shared)
        if shared is not None:  # built once by _share, read from the object store
            step.adopt(shared)
        step.setup()
        self.step, self.options, self.phase = step, options, phase
        self.source = resolve([path])[0]
        if decision is not None and not isinstance(decision, Decision):
            decision = ray.get(decision)
        self.decision: Decision | None = decision
        self.file = pq.ParquetFile(path)

    def __call__(self, batch: pa.Table) -> pa.Table:
        payloads = [
            pickle.dumps(self._one(**row), protocol=pickle.HIGHEST_PROTOCOL)
            for row in batch.to_pylist()
        ]
        return pa.table(
            {"index": batch.column("index"), "payload": pa.array(payloads, pa.binary())}
        )

    def _one(self, index: int, start: int, stop: int, offset: int) -> Part:
        part = Part()
        table = read_slice(self.file, self.source, start, stop, self.options, part)
        t0 = time.perf_counter()
        if self.phase == "observe":
            assert isinstance(self.step, GlobalStep)
            part.features = self.step.observe(conform(table))
            part.observed = self.step.observed()
            part.facts = self.step.info()
        elif self.phase == "apply":
            assert isinstance(self.step, GlobalStep) and self.decision is not None
            part.result = self.step.apply(_as_spilled(conform(table)), self.decision, offset)
            part.read_rejects = []  # counted once, in the observe pass
            part.records_in = 0
        else:
            part.result = self.step.process(table)
            part.facts = self.step.info()
        part.seconds = time.perf_counter() - t0
        return part


def _as_spilled(table: pa.Table) -> pa.Table:
    """The table as the local engine applies it: read back from its Parquet spill, so types and
    nested field names (``element``, not ``item``) match.  The records and row groups then come
    out the same; a few bytes of the Parquet footer's stored schema still differ."""
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf)
    return pq.read_table(buf.getvalue())


class _Collect(RunLog):
    """A RunLog that keeps the read rejects for the driver instead of writing them."""

    def __init__(self) -> None:
        super().__init__(None, None)
        self.kept: list[Reject] = []

    def reject(self, rej: Reject) -> None:
        self.kept.append(rej)


def read_slice(
    file: pq.ParquetFile, source: Source, start: int, stop: int, options: ReadOptions, part: Part
) -> pa.Table:
    """Rows ``[start, stop)`` of a record file, parsed as the local reader parses them."""
    groups, first, seen = [], 0, 0
    for g in range(file.num_row_groups):
        n = file.metadata.row_group(g).num_rows
        if seen + n > start and seen < stop:
            if not groups:
                first = seen
            groups.append(g)
        seen += n
    rows = file.read_row_groups(groups).slice(start - first, stop - start).to_pylist()
    log = _Collect()
    fmt = records_format.FORMAT
    records = []
    for i, row in enumerate(rows, start + 1):
        records.extend(parse_row(RawRow(f"row {i}", row), fmt, source, log, options))
    part.records_in, part.rows, part.read_rejects = log.records_in, len(records), log.kept
    return to_table(records)


# --- driver ------------------------------------------------------------------------------


def _summary(slog: local.StepLog, seconds: float, facts: dict[str, Any]) -> dict[str, Any]:
    """:meth:`StepLog.summary` with the workers' facts in place of the driver step's."""
    # The funnel's own fields come last: a step's statistic never overwrites them.
    return (
        slog.step.describe(slog.stats)
        | facts
        | {
            "step": slog.step.name,
            "config": slog.step.config.public_mapping(),
            "records_in": slog.records_in,
            "records_out": slog.records_out,
            "generated": slog.generated,
            "rejected": dict(sorted(slog.rejected.items())),
            "seconds": round(seconds, 4),
        }
    )


def _partitions(path: str, batch_size: int) -> list[dict[str, int]]:
    """The local engine's batches of the file, by row offset: ``[start, stop)`` each."""
    rows = pq.ParquetFile(path).metadata.num_rows
    return [
        {"index": i, "start": start, "stop": min(start + batch_size, rows), "offset": start}
        for i, start in enumerate(range(0, rows, batch_size))
    ]


def _build_shared(name: str, config: dict[str, Any], output: str | None) -> Any:
    step = get_step(name).from_config(config, output=Path(output) if output else None)
    return step.shared()


def _share(step: Step) -> Any:
    """What the step's workers share (:meth:`Step.shared`: benchmark indexes), built once by one
    task and left in the object store; ``None`` for a step that shares nothing."""
    if type(step).shared is Step.shared:
        return None
    import ray

    output = str(step.output) if step.output else None
    ref = ray.remote(num_cpus=1)(_build_shared).remote(step.name, step.config.to_mapping(), output)
    # Built before the pool starts: actors waiting for it must not hold the CPU it needs.
    ray.wait([ref], fetch_local=False)
    return ref


def _map(parts: list[dict[str, int]], step: Step, path: str, options: ReadOptions, phase: str,
         decision: Any = None) -> Iterator[Part]:  # fmt: skip
    """Run one phase over every partition on the cluster; yield the parts in input order."""
    import ray
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    ctx.enable_auto_log_stats = False
    workers = max(1, min(len(parts), int(ray.cluster_resources().get("CPU", 1))))
    output = str(step.output) if step.output else None
    ds = ray.data.from_items(parts, override_num_blocks=len(parts)).map_batches(
        _Worker,
        batch_size=1,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=workers, initial_size=workers),
        num_cpus=1,
        fn_constructor_args=(step.name, step.config.to_mapping(), output, path, options, phase,
                             decision, _share(step)),
    )  # fmt: skip
    expected = 0
    for row in ds.iter_rows():
        if row["index"] != expected:  # preserve_order is what makes the files identical
            raise InstructkitError(f"ray engine: partition {row['index']} came back out of order")
        expected += 1
        yield pickle.loads(row["payload"])


def _log_read(part: Part, log: RunLog) -> None:
    log.records_in += part.records_in
    for rej in part.read_rejects:
        log.reject(rej)


def _write(result: StepResult, writer: RecordWriter, log: RunLog, slog: local.StepLog) -> None:
    slog.add(result, log)
    if result.kept.num_rows:
        with log.timed("write"):
            log.records_out += writer.write(result.kept)


def _run_step(
    step: Step,
    path: str,
    options: ReadOptions,
    writer: RecordWriter,
    log: RunLog,
    slog: local.StepLog,
    progress: local.Progress | None,
) -> dict[str, Any]:
    """One step over one record file; returns the step's facts for the summary."""
    parts = _partitions(path, options.batch_size)
    if not parts:
        return {}
    facts: dict[str, Any] = {}
    if isinstance(step, GlobalStep):
        from instructkit.engines import ray_dedup

        step.setup()
        spread = ray_dedup.handles(step)  # dedup: decided in partitions, no text to the driver
        observed = (
            ray_dedup.observe(step, parts, path, options)  # type: ignore[arg-type]
            if spread
            else ((part, None) for part in _map(parts, step, path, options, "observe"))
        )
        features, sigs = [], []
        for p, (part, sig) in zip(parts, observed):
            _log_read(part, log)
            log.seconds[step.name] = log.seconds.get(step.name, 0.0) + part.seconds
            assert part.features is not None
            p["offset"] = slog.records_in  # apply's position in the decision
            slog.records_in += part.rows
            features.append(part.features)
            sigs.append(sig)
            slog.stats = merge_stats(slog.stats, part.observed)
            facts = part.facts
        if spread:
            with log.timed(step.name):
                decision = ray_dedup.decide(step, features, sigs)  # type: ignore[arg-type]
            slog.stats = merge_stats(slog.stats, decision.stats)
        else:
            decision = slog.decide(features, log)
        features.clear()
        sigs.clear()
        import ray

        ref = ray.put(decision)
        for part in _map(parts, step, path, options, "apply", ref):
            assert part.result is not None
            log.seconds[step.name] = log.seconds.get(step.name, 0.0) + part.seconds
            _write(part.result, writer, log, slog)
            if progress:
                progress(log.records_in)
        return facts | step.info()
    for part in _map(parts, step, path, options, "process"):
        _log_read(part, log)
        assert part.result is not None
        slog.records_in += part.rows
        log.seconds[step.name] = log.seconds.get(step.name, 0.0) + part.seconds
        _write(part.result, writer, log, slog)
        facts = part.facts
        if progress:
            progress(log.records_in)
    return facts


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
    progress: local.Progress | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """:func:`instructkit.engines.local.run` on Ray: one step over one record file (a recipe step).

    Without steps (converting the inputs, exporting the final records) the work is reading
    and writing one stream, which the local engine does on the driver."""
    if not steps:
        return local.run(inputs, output, steps, to=to, read_options=read_options, rejects=rejects,
                         summary=summary, strict=strict, progress=progress, extra=extra)  # fmt: skip
    options = read_options or ReadOptions()
    if (
        len(steps) != 1
        or len(inputs) != 1
        or options.fmt != "records"
        or not inputs[0].endswith(".parquet")
    ):
        raise InstructkitError(
            "the ray engine runs one step over a record file (.parquet) at a time: use it through "
            "`instructkit run RECIPE --engine ray`"
        )
    step, path = steps[0], inputs[0]
    ids = pq.read_table(path, columns=["id"]).column("id")
    if pc.count_distinct(ids).as_py() != len(ids):
        # Repeated ids are renamed in reading order (io.read.UniqueIds), a sequential rule: such
        # a file (never one a step wrote) is read on the driver, as the local engine reads it.
        return local.run(inputs, output, steps, to=to, read_options=read_options, rejects=rejects,
                         summary=summary, strict=strict, progress=progress, extra=extra)  # fmt: skip
    default_rejects, default_summary = sidecar_paths(output)
    rejects, summary = rejects or default_rejects, summary or default_summary
    kinds = {kind: sidecar(output, kind) for kind in step.sidecars}
    check_paths(output, rejects, summary, [Path(path)], extra=kinds)
    slog = local.StepLog(step, options.batch_size)
    with (
        session() if not _initialized() else nullcontext(),
        output_lock(output),
        RunLog(rejects, summary, strict=strict, sidecar_paths=kinds) as log,
    ):
        log.extra.update(extra or {})
        log.extra.update({f"{kind}_file": str(path) for kind, path in kinds.items()})
        with RecordWriter(output, to, on_reject=log.reject) as writer:
            facts = _run_step(step, path, options, writer, log, slog, progress)
        log.extra["formats"] = {resolve([path])[0].location: "records"}
        log.extra["ids_renamed"] = 0
        log.extra["steps"] = {step.name: _summary(slog, log.seconds.get(step.name, 0.0), facts)}
        log.extra["output"] = str(output)
        # The driver's high-water mark (the workers' memory is theirs): as the local engine says.
        log.extra["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return log.summary()


def _initialized() -> bool:
    import ray

    return ray.is_initialized()
