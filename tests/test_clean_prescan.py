"""The refusal/GPT-ism pre-scan: a library cut to the rules the probes allow finds exactly what the whole one finds."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instructkit.clean.prescan import RuleGate, fold, fold_changes_on_upper, loose, probe
from instructkit.clean.refusals import PatternLibrary

LIBRARY = PatternLibrary.load()
GATE = RuleGate({k: r.pattern for k, r in LIBRARY.rules.items()})
#: The same gate with the re probes only (what runs without Hyperscan).
GATE_RE = RuleGate({k: r.pattern for k, r in LIBRARY.rules.items()}, hyperscan=False)

#: Pieces of real refusals, AI self-references, fillers, and characters that case folding treats specially.
FRAGMENTS = [
    "I'm sorry, but I cannot",
    "I am sorry, but ",
    "I apologize for the confusion. ",
    "As an AI language model, ",
    "as a large language model",
    "I don't have personal opinions",
    "Unfortunately, I do not have access to",
    "It's important to note that ",
    "I hope this helps!",
    "Let me know if you have any questions.",
    "Certainly! ",
    "Sure thing. ",
    "my knowledge cutoff",
    "trained by OpenAI",
    "consult with a qualified professional",
    "抱歉，我无法",
    "作为一个AI",
    "Leider kann ich das nicht",
    "Je suis désolé, je ne peux pas",
    "İ'm ſorry, but İ can't",  # dotted capital I, long s: re.IGNORECASE matches them to i and s
    "\u212a",  # Kelvin sign, matches k
    "ß",
    "straße ",
    "I'M SORRY, BUT I CAN'T DO THAT",
    "\n\n",
    ". ",
    "Here is the code:\n```python\nprint(1)\n```\n",
    "x = 1",
]


def _both(text: str) -> None:
    for gate in (GATE, GATE_RE):
        keys = gate.possible(text)
        rules = [r for k, r in LIBRARY.rules.items() if k in keys]
        small = PatternLibrary(rules, LIBRARY.head_chars)
        assert small.find(text) == LIBRARY.find(text)
        if not fold_changes_on_upper(text):
            assert small.strip(text) == LIBRARY.strip(text)


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I cannot help with that.",
        "I'M SORRY, BUT I CANNOT HELP WITH THAT.",
        "İ'm ſorry, but İ cannot help with that.",
        "As an AI language model, I don't have feelings, but here is a poem.",
        "Certainly! Here you go.\n\nI hope this helps!",
        "Plain answer without any rule.",
        "",
        "抱歉，我无法回答这个问题。",
    ],
)
def test_gated_library_finds_the_same_hits(text: str) -> None:
    _both(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), min_size=0, max_size=12
    ).map("".join)
)
def test_gated_library_finds_the_same_hits_on_generated_texts(text: str) -> None:
    _both(text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=8).map("".join)
)
def test_every_probe_finds_something_where_its_rule_matches(text: str) -> None:
    folded = fold(text)
    for key, p in GATE.probes.items():
        if re.search(LIBRARY.rules[key].pattern, text, re.IGNORECASE):
            assert p.search(folded), key


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=8).map("".join)
)
def test_hyperscan_finds_every_rule_that_matches(text: str) -> None:
    """The loose translations, scanned together, report every rule that matches (and only rules)."""
    pytest.importorskip("hyperscan")
    assert GATE._scanner is not None and len(GATE._scanner.keys) >= 0.9 * len(LIBRARY.rules)
    found = GATE._scanner.scan(fold(text))
    if found is None:  # lone surrogates: the probes decide
        return
    for key, rule in LIBRARY.rules.items():
        if key in GATE._scanner.keys and re.search(rule.pattern, text, re.IGNORECASE):
            assert key in found, key


def test_loose_translations() -> None:
    """Literals folded or kept, ``\\s`` spelled out (ASCII members and all non-ASCII), wide bounds opened."""
    space = r"[\x{9}\x{a}\x{b}\x{c}\x{d}\x{1c}\x{1d}\x{1e}\x{1f}\x{20}\x{80}-\x{10ffff}]"
    assert loose(r"I\s+hope") == "i(?:" + space + "){1,}hope"
    assert loose(r"a.{0,160}b") == "a(?:.){0,}b"
    assert loose(r"\bStr\.", 0, folded=False) == r"Str\x{2e}"
    assert loose(r"(?i:st)", 0, folded=False) == r"(?:[sS\x{80}-\x{10ffff}][tT\x{80}-\x{10ffff}])"
    assert loose(r"(a)\1") is None  # a back-reference
    assert loose(r"x?") is None  # can match the empty string


def test_most_rules_are_gated_and_a_plain_answer_leaves_few() -> None:
    assert len(GATE.probes) >= 0.8 * len(LIBRARY.rules)
    assert len(GATE.possible("Photosynthesis turns light into sugar.")) <= len(GATE.always) + 2


def test_a_range_with_letters_inside_is_widened() -> None:
    """``[0-`]`` holds A-Z, which ignoring case also matches a-z: neither gate may read it as a range."""
    rule = {"r": r"xx[0-`]yyz"}
    for gate in (RuleGate(rule), RuleGate(rule, hyperscan=False)):
        assert gate.possible("XXaYYZ") == {"r"}


def test_probe_declines_what_it_cannot_bound() -> None:
    assert probe(r"(a)b\1") is None  # a back-reference would be renumbered in a smaller library
    assert probe(r"\w+") is None  # nothing literal to look for
    assert probe(r"\bI\s+hope\s+this\s+helps").pattern.startswith("i")


def test_fold_maps_look_alikes_and_flags_upper_case_expansions() -> None:
    assert fold("İ ſ \u212a ABC") == "i s k abc"
    assert fold_changes_on_upper("straße")
    assert not fold_changes_on_upper("café")
    assert not fold_changes_on_upper("plain ascii")
