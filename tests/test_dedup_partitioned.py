"""Dedup in partitions (:mod:`instructkit.dedup.partitioned`) decides exactly as the step on one
machine: same kept records, same reject sentences, same figures, for any batching and any number
of shuffle partitions.  Run inline here; tests/test_ray_engine.py runs the same phases on Ray."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from instructkit.dedup import partitioned
from instructkit.schema import to_table
from instructkit.steps.dedup import Dedup

WORDS = [f"w{i}" for i in range(3000)]


def planted(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` records: unique texts, exact copies (case and punctuation changed), near copies,
    chains (A~B, B~C, not A~C), a 90-record template family (a capped prefix group: more than MAX_GROUP + 1 = 65) and empties."""
    rng = random.Random(seed)
    texts: list[str] = []

    def fresh(k: int = 40) -> list[str]:
        return [rng.choice(WORDS) for _ in range(k)]

    while len(texts) < n:
        kind = rng.random()
        base = fresh()
        texts.append(" ".join(base))
        if kind < 0.15:
            texts.append(" ".join(base).upper() + "!")
        elif kind < 0.35:
            edit = list(base)
            edit[rng.randrange(len(edit))] = rng.choice(WORDS)
            texts.append(" ".join(edit))
        elif (
            kind < 0.45
        ):  # a chain: each link edits one more word (J ~0.85 to the previous, ~0.73 to the one before)
            edit = list(base)
            for _ in range(3):
                edit[rng.randrange(3, len(edit) - 3)] = rng.choice(WORDS)
                texts.append(" ".join(edit))
        elif kind < 0.47:
            texts.append("")
    template = fresh(60)
    for i in range(90):
        edit = list(template)
        edit[i % 60] = f"v{i}"
        texts.insert(rng.randrange(len(texts)), " ".join(edit))
    rng.shuffle(texts)
    recs = []
    for i, t in enumerate(texts):
        recs.append({"id": f"r{i}", "source": "t", "messages": [{"role": "user", "content": t},
                                                  {"role": "assistant", "content": "ok"}],
                     "scores": {"q": float(i % 7)}})  # fmt: skip
    return recs


def _partitioned(step: Dedup, table: pa.Table, batch: int, parts: int) -> Any:
    features, sigs = [], []
    for s in range(0, table.num_rows, batch):
        f, g = partitioned.observe(table.slice(s, batch), step.config)
        assert f.column_names == (["id", "quality"] if step.config.keep_best else ["id"])
        features.append(f)
        sigs.append(g)
    return partitioned.decide(step.config, features, sigs, partitioned.Inline(), parts)


def _without_seconds(stats: dict[str, Any]) -> dict[str, Any]:
    return {m: {k: v for k, v in s.items() if "seconds" not in k} for m, s in stats.items()}


@pytest.mark.parametrize(
    "options, batch, parts",
    [
        ({}, 500, 3),
        ({"cluster": "components"}, 700, 2),
        ({"keep_best": "q", "threshold": 0.7}, 3000, 1),
        ({"fields": "instruction", "method": ["near"], "ngram": 2}, 450, 4),
    ],
)
def test_same_decision_as_one_machine(options: dict[str, Any], batch: int, parts: int) -> None:
    table = to_table(planted(2500))
    step = Dedup(**options)
    local = step.decide(step.observe(table))
    dist = _partitioned(step, table, batch, parts)
    assert np.array_equal(local.keep, dist.keep)
    assert local.reasons == dist.reasons
    assert local.details == dist.details
    assert _without_seconds(local.stats) == _without_seconds(dist.stats)
    near = local.stats.get("near", {})
    assert local.keep.sum() < len(local.keep) and near.get("dropped", 1) > 0
    if options == {}:
        assert near["capped_groups"] > 0  # the template family: capped groups match too
        assert any("linked to it" not in (d or "") for d in local.details)
    if options.get("cluster") == "components":  # chains: a record dropped for a non-neighbour
        assert any("linked to it through" in (d or "") for d in local.details)


@pytest.mark.parametrize("texts", [["a b c d"], ["", ""], ["one two three", "four five six"],
                                   ["x y z w", "x y z w", "X, y z w!"]])  # fmt: skip
def test_small_and_empty_inputs(texts: list[str]) -> None:
    recs = [{"id": f"r{i}", "source": "t", "messages": [{"role": "user", "content": t}]}
            for i, t in enumerate(texts)]  # fmt: skip
    table = to_table(recs)
    for options in ({}, {"cluster": "components"}):
        step = Dedup(**options)
        local = step.decide(step.observe(table))
        dist = _partitioned(step, table, 1, 3)
        assert np.array_equal(local.keep, dist.keep) and local.details == dist.details
        assert _without_seconds(local.stats) == _without_seconds(dist.stats)


@pytest.mark.parametrize(
    ("options", "partitioned_here"),
    [
        ({}, True),
        ({"method": ["exact"]}, True),
        ({"index": "lsh"}, False),  # MinHash LSH: decided on the driver
        ({"method": ["exact", "semantic"]}, False),
    ],
)
def test_which_dedup_configs_the_ray_engine_partitions(
    options: dict[str, Any], partitioned_here: bool
) -> None:
    from instructkit.engines import ray_dedup

    assert ray_dedup.handles(Dedup(**options)) is partitioned_here
