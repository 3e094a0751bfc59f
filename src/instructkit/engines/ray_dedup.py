"""Dedup on Ray the distributed way: no record text leaves the worker that read it.

Each batch is read and observed by a Ray task (:func:`_observe`), which
returns two objects: the driver's part (the id and the ``--keep-best``
quality per record, plus the read's bookkeeping) and the batch's
:class:`~instructkit.dedup.partitioned.Sigs` (content hashes and shingle
sets), which stays in the object store of the node that made it.  The phases
of :mod:`instructkit.dedup.partitioned` then run as Ray tasks
(:class:`RayExecutor`): each shuffle's map tasks return one object per
partition (``num_returns``), each reduce task takes its piece of every map as
arguments, so Ray moves the pieces node to node and the driver only holds
references.  What reaches the driver: the exact pairs, the verified near pairs
and a few counts.  It clusters them with the local rules and the decision goes
to the ``apply`` pass as before.

Semantic dedup needs every text's embedding in one nearest-neighbour index; a
recipe whose dedup includes ``semantic`` keeps the single-machine decision
(texts to the driver, :func:`handles` says no).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from instructkit.dedup import partitioned
from instructkit.io.read import ReadOptions
from instructkit.io.sources import resolve
from instructkit.schema import conform
from instructkit.steps import get_step
from instructkit.steps.base import Decision, Step
from instructkit.steps.dedup import Dedup


def handles(step: Step) -> bool:
    """Whether the step's decision is made in partitions here (dedup by the prefix filter, without
    semantic; the MinHash LSH index is decided on the driver)."""
    return (
        isinstance(step, Dedup)
        and "semantic" not in step.config.method
        and step.config.index == "prefix"
    )


def _phase(fn: partitioned.Phase, *args: Any) -> Any:
    """A phase as a Ray task: one object per output (Ray wants a tuple for ``num_returns > 1``)."""
    out = fn(*args)
    return out[0] if len(out) == 1 else tuple(out)


@cache
def _task() -> Any:
    import ray

    return ray.remote(num_cpus=1)(_phase)


class RayExecutor:
    """Runs each phase as a Ray task; handles are object references, resolved where they are used."""

    def submit(self, fn: partitioned.Phase, *args: Any, returns: int = 1) -> list[Any]:
        refs = _task().options(num_returns=returns).remote(fn, *args)
        return [refs] if returns == 1 else list(refs)

    def get(self, handles: list[Any]) -> list[Any]:
        import ray

        return list(ray.get(handles))

    def put(self, value: Any) -> Any:
        """One copy in the object store, read by every task it is passed to."""
        import ray

        return ray.put(value)


def _observe(
    name: str, config: dict[str, Any], path: str, start: int, stop: int, options: ReadOptions
) -> list[Any]:
    """Read rows ``[start, stop)`` as the local reader does and observe them: ``[part, sigs]``."""
    from instructkit.engines.ray import Part, read_slice

    step = get_step(name).from_config(config)
    assert isinstance(step, Dedup)
    part = Part()
    table = read_slice(pq.ParquetFile(path), resolve([path])[0], start, stop, options, part)
    t0 = time.perf_counter()
    part.features, sigs = partitioned.observe(conform(table), step.config)
    part.seconds = time.perf_counter() - t0
    return [part, sigs]


def observe(
    step: Dedup, parts: list[dict[str, int]], path: str, options: ReadOptions
) -> Iterator[tuple[Any, Any]]:
    """Every partition observed by a task: ``(part, sigs reference)`` in input order."""
    ex = RayExecutor()
    config = step.config.to_mapping()
    handles = [
        ex.submit(
            _observe, step.name, config, str(Path(path)), p["start"], p["stop"], options, returns=2
        )  # fmt: skip
        for p in parts
    ]
    for part_ref, sigs in handles:
        yield ex.get([part_ref])[0], sigs


def decide(step: Dedup, features: list[Any], sigs: list[Any]) -> Decision:
    """The decision over the partitions' features, one shuffle partition per CPU of the cluster."""
    import ray

    cpus = int(ray.cluster_resources().get("CPU", 1))
    return partitioned.decide(step.config, features, sigs, RayExecutor(), cpus)
