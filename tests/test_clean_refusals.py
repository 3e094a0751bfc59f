"""The refusal / GPT-ism pattern library: every rule matches its documented example, and stays quiet on look-alikes."""

from __future__ import annotations

import re

import pytest

from instructkit.clean.refusals import PatternLibrary, default_library
from instructkit.errors import InstructkitError

LIB = default_library()


@pytest.mark.parametrize("key", sorted(LIB.rules))
def test_every_rule_matches_its_example(key: str) -> None:
    rule = LIB.rules[key]
    assert rule.example, f"{key} has no example"
    assert re.search(rule.pattern, rule.example, re.IGNORECASE), (
        f"{key} does not match its own example"
    )


@pytest.mark.parametrize(
    "text,rule",
    [
        ("I'm sorry, but I cannot help with writing malware.", "apology_cannot"),
        (
            "As an AI language model, I don't have personal opinions, but here are some views.",
            "as_an_ai",
        ),
        ("I am unable to browse the internet, but here is what I know.", "cannot_browse"),
        ("Lo siento, pero no puedo ayudarte con eso.", "es_refusal"),
        ("作为一个人工智能语言模型，我不能提供这个信息。", "zh_as_ai"),
    ],
)
def test_refusals_and_self_reference_are_found(text: str, rule: str) -> None:
    assert rule in {h.rule for h in LIB.find(text)}


@pytest.mark.parametrize(
    "text",
    [
        # Dialogue in a story, deep in the turn: not the assistant refusing.
        "The knight rode on. " * 30 + '"I\'m sorry, but I cannot stay," she said.',
        "Transformer language models have largely replaced recurrent networks in NLP.",
        "If the manager is unable to offer a raise, ask about other benefits.",
        "She couldn't believe it. I can't thank you enough, she wrote.",
        "I apologize for the confusion. Here is the corrected code.",
    ],
)
def test_look_alikes_are_not_refusals(text: str) -> None:
    cats = {h.category for h in LIB.find(text)}
    assert not cats & {"refusal", "ai_self_reference"}


def test_strip_removes_opener_and_closers_but_keeps_content() -> None:
    text = "Certainly! Here's a summary:\n\n- one\n- two\n\nI hope this helps! Let me know if you have any other questions."
    out, hits = LIB.strip(text)
    assert out == "Here's a summary:\n\n- one\n- two"
    assert [h.rule for h in hits] == ["interjection_opener", "hope_helps"]


def test_strip_never_empties_a_turn() -> None:
    assert LIB.strip("Sure!")[0] == "Sure!"
    assert LIB.strip("I hope this helps!")[0] == "I hope this helps!"  # noqa: B005 - PatternLibrary.strip


def test_a_malformed_user_library_is_one_clear_error(tmp_path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("categories:\n  refusal:\n    action: explode\n    patterns: []\n")
    with pytest.raises(InstructkitError, match="malformed"):
        PatternLibrary.load(bad)
    missing = tmp_path / "none.yaml"
    with pytest.raises(InstructkitError, match="cannot read"):
        PatternLibrary.load(missing)
