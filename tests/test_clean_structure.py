"""Structure repairs and checks: placeholder inputs, alternation, truncation, echoes, length bounds."""

from __future__ import annotations

from instructkit.clean.structure import (
    Bounds,
    check,
    is_echo,
    is_truncated,
    normalize_placeholder_input,
    repair,
)


def rec(*turns: tuple[str, str], meta: dict | None = None) -> dict:
    return {
        "id": "r",
        "source": "t",
        "messages": [{"role": r, "content": c} for r, c in turns],
        "meta": meta or {},
    }


def test_placeholder_input_is_emptied_in_meta_and_user_text() -> None:
    r = rec(
        ("user", "Name a colour.\n\n<noinput>"), ("assistant", "Blue."), meta={"input": "<noinput>"}
    )
    assert normalize_placeholder_input(r)
    assert r["messages"][0]["content"] == "Name a colour."
    assert r["meta"]["input"] == ""
    r2 = rec(
        ("user", "Translate.\n\nNo input."),
        ("assistant", "Nothing to translate."),
        meta={"input": "No input."},
    )
    assert normalize_placeholder_input(r2) and r2["meta"]["input"] == ""
    real = rec(
        ("user", "Summarise.\n\nThe cat sat."),
        ("assistant", "A cat sat."),
        meta={"input": "The cat sat."},
    )
    assert not normalize_placeholder_input(real)
    assert real["meta"]["input"] == "The cat sat."


def test_consecutive_turns_merge_and_leading_assistant_drops_with_hints_aligned() -> None:
    r = rec(
        ("assistant", "tail of a split chunk"),
        ("user", "a"),
        ("user", "b"),
        ("assistant", "c"),
        meta={"_format": {"roles": ["gpt", "human", "human", "gpt"]}},
    )
    edits: list[dict] = []
    repairs, finding = repair(r, edits)
    assert finding is None
    assert repairs == {"dropped_leading_assistant": 1, "merged_turns": 1}
    assert edits == [
        {"rule": "merged_turns", "turns": [1, 2]},
        {"rule": "dropped_leading_assistant", "turns": [0]},
    ]
    assert [m["content"] for m in r["messages"]] == ["a\n\nb", "c"]
    assert r["meta"]["_format"]["roles"] == ["human", "gpt"]


def test_unrepairable_conversations_are_named() -> None:
    _, f = repair(
        rec(
            ("user", "q"),
            ("assistant", "a"),
            ("system", "late"),
            ("user", "q2"),
            ("assistant", "a2"),
        )
    )
    assert f and f.reason == "not_alternating" and f.rule == "system_in_middle" and f.turn == 2
    _, f = repair(rec(("assistant", "only an answer")))
    assert f and f.reason == "not_alternating"
    _, f = repair(rec(("user", "q"), ("assistant", " \u200b ")))
    assert f and f.reason == "empty_turn" and f.turn == 1


def test_trailing_unanswered_user_turn_is_dropped() -> None:
    r = rec(("user", "q"), ("assistant", "a."), ("user", "and?"))
    repairs, f = repair(r)
    assert f is None and repairs["dropped_trailing_user"] == 1 and len(r["messages"]) == 2


def test_truncation() -> None:
    assert is_truncated("Here is the code:\n```python\nprint(1)\n") == "unclosed_code_block"
    assert is_truncated("You could also reach out to them on LinkedIn and") == "mid_sentence"
    assert (
        is_truncated("This plan includes access to a team of professional social media managers")
        == "mid_sentence"
    )
    assert is_truncated("That is all.") is None
    assert is_truncated("```python\nprint(1)\n```") is None
    assert is_truncated("1. Apple\n2. Banana\n3. Cherry") is None
    assert is_truncated("thanks") is None
    assert (
        is_truncated(
            "Among her favourites: The Miscalculations of Lightning Girl by Stacy McAnulty"
        )
        is None
    )
    assert (
        is_truncated("Get yourself a puppy and experience love like no other. #PuppyLove") is None
    )
    assert (
        is_truncated("10. The Miscalculations of Lightning Girl by Stacy McAnulty and others")
        is None
    )


def test_echo_is_strict() -> None:
    assert is_echo("Repeat after me: the sky is blue.", "Repeat after me: the sky is blue.")
    assert not is_echo("Fix the grammar: he go to school.", "He goes to school.")
    assert not is_echo("What is 2+2?", "4")


def test_length_bounds() -> None:
    f = check(rec(("user", "q"), ("assistant", "")), Bounds(min_response_words=1))
    assert f and f.reason == "too_short"
    f = check(rec(("user", "x" * 50), ("assistant", "y" * 60)), Bounds(max_chars=100))
    assert f and f.reason == "too_long"
    assert check(rec(("user", "q"), ("assistant", "Fine.")), Bounds()) is None
