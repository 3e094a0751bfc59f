"""The one small interface every step shares.

A step takes a batch of records (an Arrow table with :data:`RECORD_SCHEMA`) and
returns the records it keeps plus a :class:`Reject` for each one it drops —
never a silent drop.  Steps declare the columns they read and write
(distilabel's idea), load their models in :meth:`Step.setup` (once, lazily),
and a filter computes its statistics before it decides (data-juicer's idea), so
``--mode flag`` and threshold tuning come for free.

Most steps are per-batch.  A step that needs to see every record before it
decides (deduplication) sets ``needs_all = True`` and receives the whole input
as one table.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from instructkit.accounting import Reject
from instructkit.schema import to_records


@dataclass
class StepResult:
    kept: pa.Table
    rejects: list[Reject] = field(default_factory=list)
    #: Records the step created (not read from the input); counted so the books still balance.
    generated: int = 0


class Step(ABC):
    #: Registry name; also the command and the recipe key.
    name: ClassVar[str]
    #: Record fields the step reads and writes (``scores.complexity`` style for metrics).
    reads: ClassVar[tuple[str, ...]] = ("messages",)
    writes: ClassVar[tuple[str, ...]] = ()
    #: True when the step must see all records at once (deduplication).
    needs_all: ClassVar[bool] = False

    def setup(self) -> None:  # noqa: B027 (optional hook)
        """Load models and indexes.  Called once, before the first batch."""

    @abstractmethod
    def process(self, table: pa.Table) -> StepResult:
        """Return the kept records and a reject for every dropped one."""

    def summary(self) -> dict[str, Any]:
        """Step-specific figures for the summary file (per-rule counts, model names, ...)."""
        return {}


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
