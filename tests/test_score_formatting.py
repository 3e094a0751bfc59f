"""Format metrics and the safety metric: counts that mean what they say, absent when there is nothing."""

from __future__ import annotations

import numpy as np
import pytest

from instructkit.schema import to_table
from instructkit.score.formatting import score_format

MD = "# Title\n\nText with `code` and **bold**, see [docs](https://x.org).\n\n```python\nprint(1)\n```\n\n- a\n- b\n1. c\n\n| a | b |\n|---|---|\n"


def test_markdown_counts() -> None:
    out, _ = score_format([MD])
    got = {k.removeprefix("format."): v[0] for k, v in out.items()}
    assert got["code_blocks"] == 1 and got["inline_code"] == 1 and got["headers"] == 1
    assert (
        got["list_items"] == 3 and got["table_rows"] == 2 and got["bold"] == 1 and got["links"] == 1
    )
    assert got["tokens"] == len(MD.split())


def test_unclosed_fence_still_counts_and_language_is_found() -> None:
    out, langs = score_format(
        [
            "```\ncode without end",
            "Das ist ein deutscher Satz mit genug Buchstaben für die Erkennung.",
        ]
    )
    assert out["format.code_blocks"][0] == 1
    assert langs[1] == "de" and out["format.lang_prob"][1] > 0.9


def test_empty_response_is_absent() -> None:
    out, langs = score_format(["", "  \n"])
    assert all(np.isnan(v).all() for v in out.values()) and langs == [None, None]


@pytest.mark.slow  # loads the toxicity model
def test_safety_uses_the_shared_classifier_per_role() -> None:
    from instructkit.score.safety import score_safety

    recs = [
        {
            "id": "1",
            "source": "s",
            "meta": {},
            "messages": [
                {"role": "user", "content": "you stupid idiot, shut the fuck up"},
                {"role": "assistant", "content": "I am happy to help you with a kind answer."},
            ],
        },
        {
            "id": "2",
            "source": "s",
            "meta": {},
            "messages": [{"role": "user", "content": "hello there"}],
        },
    ]
    out = score_safety(to_table(recs))
    assert out["toxicity.user"][0] > 0.8 > out["toxicity.assistant"][0]
    assert out["toxicity"][0] == out["toxicity.user"][0]
    assert np.isnan(out["toxicity.assistant"][1]) and not np.isnan(out["toxicity"][1])
