"""Property-based: random valid rows round-trip exactly; random garbage never crashes and is
always accounted for (records in = records out + rejected)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import instructkit
from tests.helpers import read_jsonl

# Text with anything in it (newlines, quotes, emoji, NUL), but not only white space: a turn
# with no text is invalid by design.  Lone surrogates cannot be written as UTF-8 at all.
text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(
    lambda s: not s.isspace() and s.strip() == s
)
maybe_text = st.one_of(st.just(""), text)

alpaca_row = st.fixed_dictionaries({"instruction": text, "input": maybe_text, "output": text})
sharegpt_row = st.fixed_dictionaries(
    {
        "id": st.text("abcdef0123456789", min_size=1, max_size=8),
        "conversations": st.lists(
            st.fixed_dictionaries(
                {
                    "from": st.sampled_from(
                        ["human", "gpt", "system", "user", "assistant", "chatgpt", "observation"]
                    ),
                    "value": text,
                }
            ),
            min_size=1,
            max_size=6,
        ),
    }
)
dolly_row = st.fixed_dictionaries(
    {
        "instruction": text,
        "context": maybe_text,
        "response": text,
        "category": st.sampled_from(["open_qa", "closed_qa", "summarization"]),
    }
)
openai_row = st.fixed_dictionaries(
    {
        "messages": st.lists(
            st.fixed_dictionaries(
                {"role": st.sampled_from(["system", "user", "assistant", "tool"]), "content": text}
            ),
            min_size=1,
            max_size=6,
        )
    }
)

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _round_trip(rows: list[dict], fmt: str) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        summary = instructkit.convert(str(src), Path(tmp) / "out.jsonl", fmt=fmt, to=fmt)
        assert summary["rejected"] == {}, summary
        return read_jsonl(Path(tmp) / "out.jsonl")


@SETTINGS
@given(st.lists(alpaca_row, min_size=1, max_size=5))
def test_alpaca_round_trip(rows: list[dict]) -> None:
    assert _round_trip(rows, "alpaca") == rows


@SETTINGS
@given(st.lists(sharegpt_row, min_size=1, max_size=5))
def test_sharegpt_round_trip(rows: list[dict]) -> None:
    assert _round_trip(rows, "sharegpt") == rows


@SETTINGS
@given(st.lists(dolly_row, min_size=1, max_size=5))
def test_dolly_round_trip(rows: list[dict]) -> None:
    assert _round_trip(rows, "dolly") == rows


@SETTINGS
@given(st.lists(openai_row, min_size=1, max_size=5))
def test_openai_round_trip(rows: list[dict]) -> None:
    assert _round_trip(rows, "openai") == rows


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "instruction",
                    "input",
                    "output",
                    "conversations",
                    "from",
                    "value",
                    "messages",
                    "role",
                    "content",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)
line = st.one_of(
    json_value.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b),
)


@SETTINGS
@given(
    st.lists(line, min_size=1, max_size=12),
    st.sampled_from(["auto", "alpaca", "sharegpt", "openai", "dolly", "lima"]),
)
def test_garbage_is_always_accounted_for(lines: list[bytes], fmt: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "junk.jsonl"
        src.write_bytes(b"\n".join(lines) + b"\n")
        summary = instructkit.convert(str(src), Path(tmp) / "out.jsonl", fmt=fmt)
        out = read_jsonl(Path(tmp) / "out.jsonl")
        rejects = read_jsonl(Path(tmp) / "out.rejects.jsonl")
        assert summary["balanced"]
        assert summary["records_in"] == len(out) + len(rejects)
        assert all(r["reason"] and r["detail"] for r in rejects)


# Any text at all for the fast path, white space included: it must agree with the row path
# on what is blank, what is joined and what is rejected, not only on the easy cases.
any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@SETTINGS
@given(
    st.lists(
        st.fixed_dictionaries({"instruction": any_text, "input": any_text, "output": any_text}),
        min_size=1,
        max_size=8,
    )
)
def test_alpaca_block_fast_path_writes_what_the_row_path_writes(rows: list[dict]) -> None:
    """The block parser encodes records itself; its lines and ids must be byte for byte those of
    parsing each row and writing it with the record writer, and it must decline any block the
    row path would reject a row of."""
    from instructkit.formats import alpaca
    from instructkit.io.write import _ENCODER
    from instructkit.schema import content_id

    data = b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows)
    block = alpaca.parse_block(data, "src", 10**6)
    valid = all(r["instruction"].strip() and r["output"].strip() for r in rows)
    assert (block is not None) == valid
    if block is not None:
        records = [alpaca.parse(r, "src")[0] for r in rows]
        assert block.lines == _ENCODER.encode_lines(records)
        assert (
            block.ids == [content_id(r["messages"]) for r in records] == [r["id"] for r in records]
        )
        assert block.records() == records


def test_alpaca_block_fast_path_declines_other_shapes() -> None:
    from instructkit.formats import alpaca

    ok = {"instruction": "Say hi.", "input": "", "output": "Hi."}
    for odd in (
        {**ok, "system": "Be brief."},
        {**ok, "input": None},
        {"instruction": "Say hi.", "output": "Hi."},
        {**ok, "input": 3},
    ):
        assert (
            alpaca.parse_block(
                b"".join(json.dumps(r).encode() + b"\n" for r in (ok, odd)), "s", 10**6
            )
            is None
        )
    assert alpaca.parse_block(json.dumps(ok).encode() + b"\n", "s", 10**6) is not None
    assert (
        alpaca.parse_block(json.dumps(ok).encode() + b"\n", "s", 10) is None
    )  # may be over the size limit
