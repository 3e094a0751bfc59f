"""Language identification: too little prose gets no language; the letter count stops at the threshold."""

from __future__ import annotations

import pytest

pytest.importorskip("py3langid")

from instructkit.clean.language import MIN_LETTERS, identify  # noqa: E402


def test_identify_needs_enough_letters() -> None:
    few = "a" * (MIN_LETTERS - 1) + " 123 ```code with many letters inside```"
    enough = "The quick brown fox jumps over the lazy dog near the river bank."
    just = "x" * MIN_LETTERS
    out = identify([few, enough, just])
    assert out[0] is None
    assert out[1] is not None and out[1][0] == "en"
    assert out[2] is not None
