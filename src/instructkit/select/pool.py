"""What every selection method works on and hands back.

A :class:`Pool` holds the per-record features (id, source, the ``--by`` score,
token count, unit embedding); a :class:`Budget` says whether one more record
still fits (row count, per-source quotas, token budget); a method returns
:class:`Picks`: the chosen rows in the order chosen and, for rows it passed
over on purpose, why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from instructkit.errors import InstructkitError

#: Query rows per block when comparing the pool with the picks.
BLOCK = 8192


@dataclass
class Pool:
    ids: list[str]
    sources: np.ndarray  # object array of source names
    score: np.ndarray  # float64; NaN only where the method needs no score (random)
    tokens: np.ndarray  # int64 per record
    vectors: np.ndarray  # float32 [n, d], unit rows (zero rows: not comparable)

    def __len__(self) -> int:
        return len(self.ids)

    def rank_order(self) -> np.ndarray:
        """Rows by score, best first; equal scores keep input order (a stable sort), NaN last."""
        key = np.where(np.isnan(self.score), np.inf, -self.score)
        return np.argsort(key, kind="stable")


@dataclass
class Picks:
    order: list[int]
    #: Why a row was passed over, where the method knows better than "below the score cut".
    details: dict[int, str] = field(default_factory=dict)


def parse_quotas(spec: str | None, n: int, sources: np.ndarray) -> dict[str, int]:
    """``"alpaca=300,lima=0.25,*=100"`` -> per-source caps; a value below 1 is a share of ``n``."""
    if not spec:
        return {}
    known = set(sources.tolist())
    quotas: dict[str, int] = {}
    for part in spec.split(","):
        name, sep, value = part.strip().rpartition("=")
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not sep or not name or number < 0:
            raise InstructkitError(
                f"option 'per-source': {part.strip()!r} is not SOURCE=COUNT or SOURCE=SHARE "
                "(e.g. alpaca=300,lima=0.25,*=100)"
            )
        if name != "*" and name not in known:
            raise InstructkitError(
                f"option 'per-source': no record has source {name!r}; sources are "
                + ", ".join(sorted(known)[:20])
            )
        quotas[name] = int(number * n) if number < 1 else int(number)
    return quotas


class Budget:
    """The row budget ``n``, per-source quotas and the token budget, checked one record at a time."""

    def __init__(
        self, pool: Pool, n: int, quotas: dict[str, int], max_tokens: int | None = None
    ) -> None:
        self.pool = pool
        self.n = n
        self.quotas = quotas
        self.max_tokens = max_tokens
        self.count = 0
        self.tokens = 0
        self.per_source: dict[str, int] = {}

    @property
    def full(self) -> bool:
        return self.count >= self.n

    def cap(self, source: str) -> int | None:
        return self.quotas.get(source, self.quotas.get("*"))

    def refuses(self, i: int) -> str | None:
        """Why row ``i`` cannot be added now (an actionable detail), or None if it fits."""
        source = str(self.pool.sources[i])
        cap = self.cap(source)
        if cap is not None and self.per_source.get(source, 0) >= cap:
            return (
                f"the quota for source {source!r} ({cap} records, --per-source) was already filled"
            )
        if self.max_tokens is not None:
            need = int(self.pool.tokens[i])
            if self.tokens + need > self.max_tokens:
                return (
                    f"its {need} tokens would exceed the token budget (--max-tokens "
                    f"{self.max_tokens}; {self.max_tokens - self.tokens} left)"
                )
        return None

    def take(self, i: int) -> None:
        source = str(self.pool.sources[i])
        self.count += 1
        self.tokens += int(self.pool.tokens[i])
        self.per_source[source] = self.per_source.get(source, 0) + 1


def nearest_before(vectors: np.ndarray, order: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """For each pick, the most similar pick made before it (position in ``order``, -1 for the
    first) and the cosine (NaN for the first), in blocks of picks."""
    m = len(order)
    best = np.full(m, -1, np.int64)
    sim = np.full(m, np.nan)
    picked = vectors[order]
    for s in range(1, m, BLOCK):
        e = min(s + BLOCK, m)
        block = picked[s:e] @ picked[:e].T
        block[np.arange(e)[None, :] >= np.arange(s, e)[:, None]] = -np.inf
        best[s:e] = np.argmax(block, axis=1)
        sim[s:e] = block[np.arange(e - s), best[s:e]]
    return best, sim


def nearest_pick(vectors: np.ndarray, order: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """For every row, its most similar pick (position in ``order``) and the cosine, in blocks."""
    n = len(vectors)
    best = np.full(n, -1, np.int64)
    sim = np.full(n, np.nan)
    if not order:
        return best, sim
    picked = vectors[order].T
    for s in range(0, n, BLOCK):
        block = vectors[s : s + BLOCK] @ picked
        best[s : s + BLOCK] = np.argmax(block, axis=1)
        sim[s : s + BLOCK] = block[np.arange(len(block)), best[s : s + BLOCK]]
    return best, sim
