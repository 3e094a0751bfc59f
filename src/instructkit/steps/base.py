"""The one small interface every step shares.

A step is built from its config (:mod:`instructkit.steps.config`) and never
knows where it runs (datatrove's executors): an engine hands it batches of
records as Arrow tables with :data:`RECORD_SCHEMA` and gets back the records
it keeps plus a :class:`Reject` for each one it drops, never a silent drop,
and statistics that add up across batches and workers (:func:`merge_stats`).

Two kinds of step:

- :class:`Step`, per batch: ``process(table)`` (clean, score, evolve, ...).
- :class:`GlobalStep`, for decisions that need every record (dedup, select):
  ``observe(table)`` turns each batch into small per-record features
  (signatures, hashes, embeddings, scores), ``decide(features)`` makes the one
  global decision, and ``apply(table, decision)`` keeps or rejects each
  batch's records by it.  The records themselves stream past twice; only the
  features are ever held whole, so no later step receives one giant table
  (data-juicer's ``compute_hash`` / ``process`` split).

A step loads its models in :meth:`Step.setup` (once, lazily) and computes its
statistics into ``scores`` before it decides (data-juicer), so ``mode: flag``
and threshold tuning come for free.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pyarrow as pa

from instructkit.accounting import Reject
from instructkit.schema import to_records
from instructkit.steps.config import StepConfig


@dataclass
class StepResult:
    kept: pa.Table
    rejects: list[Reject] = field(default_factory=list)
    #: Records the step created (not read from the input); counted so the books still balance.
    generated: int = 0
    #: Figures for the summary; they add up across batches (see :func:`merge_stats`).
    stats: dict[str, Any] = field(default_factory=dict)
    #: Extra evidence files by kind (``hits`` -> ``STEM.hits.jsonl``): rows the engine appends.
    sidecars: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class Step(ABC):
    #: Registry name; also the command and the recipe key.
    name: ClassVar[str]
    #: The step's options: one pydantic model, the only place their defaults live.
    Config: ClassVar[type[StepConfig]]
    #: Record fields the step reads and writes (``scores.complexity`` style for metrics).
    reads: ClassVar[tuple[str, ...]] = ("messages",)
    writes: ClassVar[tuple[str, ...]] = ()
    #: Records per batch unless the user says otherwise (model-bound steps want smaller ones).
    batch_size: ClassVar[int] = 5000
    #: Evidence files the step writes beside its output (``hits`` -> ``STEM.hits.jsonl``).
    sidecars: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, config: StepConfig | None = None, *, output: Path | None = None, **options: Any
    ) -> None:
        """``output`` is where the step's records go; its sidecar files (hits, caches) sit beside it.

        Options may be given by name instead of a config: ``Dedup(method=["exact"])``."""
        if options:
            if config is not None:
                raise TypeError("give either a config or options, not both")
            config = self.Config.from_config(options)
        self.config = config if config is not None else self.Config()
        if not isinstance(self.config, self.Config):
            raise TypeError(
                f"{type(self).__name__} takes a {self.Config.__name__}, not {type(config).__name__}"
            )
        self.output = output

    @classmethod
    def from_config(
        cls,
        mapping: Mapping[str, Any] | None = None,
        *,
        base: Path | None = None,
        output: Path | None = None,
    ) -> Self:
        """Build the step from option names and values, as a recipe or the command line gives them."""
        return cls(cls.Config.from_config(mapping, base=base), output=output)

    def setup(self) -> None:  # noqa: B027 (an optional hook)
        """Load models and indexes.  Called once per process, before the first batch."""

    def shared(self) -> Any:
        """What :meth:`setup` builds that every worker can use as is (benchmark indexes), built
        here; ``None`` (the default): nothing.  An engine with many workers builds it once, ships
        it, and each worker :meth:`adopt`-s it instead of building its own."""
        return None

    def adopt(self, shared: Any) -> None:  # noqa: B027 (an optional hook)
        """Take what :meth:`shared` built in another process; :meth:`setup` then skips building it."""

    @abstractmethod
    def process(self, table: pa.Table) -> StepResult:
        """Return the kept records and a reject for every dropped one."""

    def info(self) -> dict[str, Any]:
        """Facts for the summary that do not add up across batches (index sizes, model usage).

        Called once, after the last batch."""
        return {}

    def describe(self, stats: dict[str, Any]) -> dict[str, Any]:
        """The summary's view of the merged statistics (means from sums, tables from counters)."""
        return stats


@dataclass
class Decision:
    """A global step's verdict on every record, by position in the step's input."""

    keep: np.ndarray
    reasons: list[str | None]
    details: list[str | None]
    stats: dict[str, Any] = field(default_factory=dict)
    sidecars: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class GlobalStep(Step):
    """A step whose decision needs every record: observe per batch, decide once, apply per batch."""

    @abstractmethod
    def observe(self, table: pa.Table) -> pa.Table:
        """Small per-record features of one batch, one row per record, in order."""

    def observed(self) -> dict[str, Any]:
        """Statistics of the ``observe`` calls since the last call (encode counts, cache hits).

        The engine adds them up wherever ``observe`` ran, a worker included, so figures gathered
        while observing never stay behind in another process."""
        return {}

    @abstractmethod
    def decide(self, features: pa.Table) -> Decision:
        """The global decision over the features of all batches, concatenated in input order."""

    def apply(self, table: pa.Table, decision: Decision, offset: int) -> StepResult:
        """Keep or reject the batch that starts at input position ``offset``."""
        stop = offset + table.num_rows
        return split(
            table,
            decision.keep[offset:stop],
            self.name,
            decision.reasons[offset:stop],
            decision.details[offset:stop],
        )

    def process(self, table: pa.Table) -> StepResult:
        """The whole input as one batch (tests, small data): observe, decide, apply."""
        features = self.observe(table)
        observed = self.observed()
        decision = self.decide(features)
        result = self.apply(table, decision, 0)
        result.stats = merge_stats(merge_stats(result.stats, observed), decision.stats)
        result.sidecars |= decision.sidecars
        return result


def split(
    table: pa.Table,
    keep: np.ndarray,
    step: str,
    reasons: list[str | None] | str,
    details: list[str | None] | str,
) -> StepResult:
    """Keep rows where ``keep`` is true; every other row becomes a reject with its reason and detail."""
    keep = np.asarray(keep, dtype=bool)
    drop_idx = np.flatnonzero(~keep)
    rejects: list[Reject] = []
    if len(drop_idx):
        dropped = to_records(table.take(pa.array(drop_idx)))
        for rec, i in zip(dropped, drop_idx):
            reason = reasons if isinstance(reasons, str) else reasons[i]
            detail = details if isinstance(details, str) else details[i]
            rejects.append(Reject(step, reason or "rejected", detail or "", record=rec))
    return StepResult(table.filter(pa.array(keep)), rejects)


def merge_stats(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Add two statistics dicts: numbers add, dicts merge, lists concatenate, equal values stay.

    Datatrove's ``MetricStatsDict.__add__`` idea: each batch (and later each
    worker) reports its own figures and the engine sums them, so a step never
    keeps running totals that a second process could not see.  Constants
    belong in the config, not here; two different non-numeric values become a
    sorted list of both.
    """
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
            continue
        mine = out[key]
        if isinstance(mine, bool) or isinstance(value, bool):
            out[key] = mine or value
        elif isinstance(mine, int | float) and isinstance(value, int | float):
            out[key] = mine + value
        elif isinstance(mine, Mapping) and isinstance(value, Mapping):
            out[key] = merge_stats(mine, value)
        elif isinstance(mine, list) and isinstance(value, list):
            out[key] = mine + value
        elif mine != value:
            out[key] = sorted({str(mine), str(value)})
    return out
