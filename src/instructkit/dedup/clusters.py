"""Duplicate pairs -> clusters -> one record kept per cluster, never both dropped.

Connected components come from SciPy's sparse-graph routine (a well-kept
union-find equivalent).  The kept record is the best by a ``scores`` metric
when one is named (a record without the metric ranks last), else the first
seen; ties go to the first seen, so the choice is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


@dataclass
class Clusters:
    #: Index of the kept record for every record; ``keeper[i] == i`` for kept records and singletons.
    keeper: np.ndarray
    #: Size of the cluster each record belongs to.
    size: np.ndarray

    @property
    def dropped(self) -> np.ndarray:
        return np.flatnonzero(self.keeper != np.arange(len(self.keeper)))

    @property
    def clusters(self) -> int:
        """Clusters with more than one record."""
        return int(np.count_nonzero((self.size > 1) & (self.keeper == np.arange(len(self.keeper)))))


def resolve(n: int, pairs: np.ndarray, quality: np.ndarray | None = None) -> Clusters:
    """Cluster ``n`` records linked by ``pairs`` (``[m, 2]``) and choose each cluster's keeper."""
    if len(pairs) == 0:
        return Clusters(np.arange(n), np.ones(n, dtype=np.int64))
    graph = coo_matrix(
        (np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n)
    )
    _, label = connected_components(graph, directed=False)
    q = np.zeros(n) if quality is None else np.where(np.isnan(quality), -np.inf, quality)
    order = np.lexsort((np.arange(n), -q, label))  # by cluster, best quality, first seen
    first = np.ones(n, dtype=bool)
    first[1:] = label[order][1:] != label[order][:-1]
    winner = np.empty(label.max() + 1, dtype=np.int64)
    winner[label[order][first]] = order[first]
    return Clusters(winner[label], np.bincount(label)[label])


def resolve_star(n: int, pairs: np.ndarray, quality: np.ndarray | None = None) -> Clusters:
    """Greedy: in keep order (best quality, then first seen) a record still undecided is kept and
    drops its undecided direct neighbours.  Every dropped record is itself similar to its keeper,
    so no chain (A~B, B~C) drops C for A; more records survive than with connected components."""
    keeper = np.arange(n)
    if len(pairs) == 0:
        return Clusters(keeper, np.ones(n, dtype=np.int64))
    q = np.zeros(n) if quality is None else np.where(np.isnan(quality), -np.inf, quality)
    both = np.concatenate((pairs, pairs[:, ::-1]))
    both = both[np.argsort(both[:, 0], kind="stable")]
    starts = np.searchsorted(both[:, 0], np.arange(n + 1))
    decided = np.zeros(n, dtype=bool)
    nodes = np.unique(pairs)
    for k in nodes[np.lexsort((nodes, -q[nodes]))].tolist():
        if decided[k]:
            continue
        decided[k] = True
        nb = both[starts[k] : starts[k + 1], 1]
        nb = nb[~decided[nb]]
        keeper[nb] = k
        decided[nb] = True
    size = np.bincount(keeper, minlength=n)[keeper]
    return Clusters(keeper, size)
