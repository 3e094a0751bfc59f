"""The baseline: a seeded random sample under the same budgets."""

from __future__ import annotations

import numpy as np

from instructkit.select.pool import Budget, Picks, Pool


def random_sample(pool: Pool, budget: Budget, seed: int) -> Picks:
    picks: list[int] = []
    details: dict[int, str] = {}
    for i in np.random.default_rng(seed).permutation(len(pool)).tolist():
        if budget.full:
            break
        why = budget.refuses(i)
        if why:
            details[i] = why
            continue
        picks.append(i)
        budget.take(i)
    return Picks(picks, details)
