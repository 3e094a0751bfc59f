"""Rare-word containment candidates and the checkpointed vector store (no model needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from instructkit.decontam.cache import VectorStore
from instructkit.decontam.lexical import LexicalIndex

ITEMS = [
    [
        "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May."
    ],
    ["What is the boiling point of water at sea level in degrees Celsius?"],
    ["Write a python function fib(n) that returns the n-th Fibonacci number."],
]


def test_containment_ranks_the_rephrased_item_first_and_ignores_unrelated_turns() -> None:
    idx = LexicalIndex.build(ITEMS)
    turns = [
        "In April Natalia sold hair clips to 48 friends; in May, half as many clips. Total?",
        "Write a haiku about autumn leaves.",
    ]
    q, row, score = idx.search(turns, k=5, floor=0.3)
    assert q.tolist()[0] == 0 and row.tolist()[0] == 0 and score[0] > 0.6
    assert 1 not in q.tolist()  # the haiku shares no rare word with any item
    back = LexicalIndex.from_arrays(idx.arrays())
    q2, row2, score2 = back.search(turns, k=5, floor=0.3)
    assert q2.tolist() == q.tolist() and np.allclose(score2, score)


def test_containment_is_one_when_the_turn_holds_the_whole_item() -> None:
    idx = LexicalIndex.build(ITEMS)
    _, row, score = idx.search(["Please help. " + ITEMS[2][0] + " Thanks a lot!"], k=1, floor=0.0)
    assert row.tolist() == [2] and score[0] == pytest.approx(1.0, abs=1e-6)


def test_vector_store_keeps_what_a_killed_run_encoded(tmp_path: Path) -> None:
    calls: list[int] = []
    fail = [True]

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        if len(calls) == 2 and fail[0]:
            raise RuntimeError("killed")  # the run dies while encoding its second chunk
        return np.full((len(texts), 3), float(len(calls)), np.float32)

    texts = [f"t{k}" for k in range(5)]
    store = VectorStore(tmp_path, "b-vectors", 5)
    with pytest.raises(RuntimeError, match="killed"):
        store.get(np.arange(5), lambda rows: [texts[r] for r in rows], encode, chunk=2)
    again = VectorStore(tmp_path, "b-vectors", 5)
    assert again.loaded == 2  # the first chunk survived
    calls.clear()
    fail[0] = False
    vecs = again.get(np.arange(5), lambda rows: [texts[r] for r in rows], encode, chunk=2)
    assert calls == [2, 1] and vecs.shape == (5, 3)  # only the 3 missing texts were encoded
    assert np.all(vecs[:2] == 1.0)
