"""The refusal / GPT-ism pattern library: every rule matches its documented example, and stays quiet on look-alikes."""

from __future__ import annotations

import re

import pytest

from instructkit.clean.refusal_judge import default_judge, first_refusal, user_turn_before
from instructkit.clean.refusals import PatternLibrary, default_library, strip_ai_opener
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
    hits = LIB.find(text)
    # the generic cue family ("unable", "sorry") may fire; no specific opener does, and the judge keeps the turn
    cats = {h.category for h in hits if h.rule != "generic_cue"}
    assert not cats & {"refusal", "ai_self_reference"}
    opener = first_refusal(hits)
    assert opener is None or not JUDGE.judge(text, opener, LIB.rule_of(opener).lang).refusal


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


JUDGE = default_judge()


def _is_refusal(text: str) -> bool:
    opener = first_refusal(LIB.find(text))
    return opener is not None and JUDGE.judge(text, opener, LIB.rule_of(opener).lang).refusal


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, I'm not sure what you mean by \"u6\". Can you please provide more context?",
        "I am not familiar with a product called Zorblex. Could you provide more details?",
        "Unfortunately, you have not provided the article. Please paste it and I will summarise it.",
        "I'm sorry, but I don't have access to the internet, so I cannot check today's weather.",
        "I'm sorry, but as",
        # session 4: openers the fresh labels showed, in my own words
        "I'm sorry, but I still need more information about the audience before I can draft the speech.",
        "I apologize for the mix-up. Could you please clarify which chapter you want me to rewrite?",
        "Sorry, I can't see earlier messages from this chat. Please send the question again.",
        "Thanks for your patience. It's not clear to me which city you are asking about. Could you name it?",
        'Sorry, but "qzx" is not a clear question. Could you tell me more about what you need?',
        # a refusal padded with generalities is still a refusal
        "I'm sorry, but I don't have access to that company's internal sales data. In general, sales in this "
        "sector depend on the season and on the region, and they may vary widely from year to year.",
    ],
)
def test_non_answers_are_refusals(text: str) -> None:
    assert _is_refusal(text)


@pytest.mark.parametrize(
    "text",
    [
        # opens with "I can't", then delivers
        "I'm sorry, but I cannot create tables in this interface. Here is the list instead:\n\n"
        "1. Initial Access: phishing, drive-by compromise.\n2. Execution: command line, scripts.\n"
        "3. Persistence: scheduled tasks, registry run keys.\n4. Privilege Escalation: token theft.",
        "I'm sorry, I can't run code here. However, here is a function that does it:\n\n"
        "```python\ndef total(xs):\n    return sum(xs)\n```\n\nCall it with your list of numbers.",
        # talks about being an AI, then answers: a GPT-ism, not a refusal
        "As an AI language model, I don't have feelings, but I'm glad to help. Photosynthesis turns "
        "light, water and carbon dioxide into glucose and oxygen in the chloroplasts of plant cells, "
        "using chlorophyll to capture the light energy that drives the reactions.",
        # takes the task on and asks for what it needs: not a refusal
        "Sure! I'd be happy to help with your essay. Could you share more details about the topic and the length?",
        # "As an AI, I have no physical form" answering a question about itself: a GPT-ism
        "As an AI, I do not have physical form, so I never get tired. I can keep working on your spreadsheet "
        "questions for as long as you need, one formula at a time, and check each result with you.",
    ],
)
def test_answers_behind_a_refusal_opener_are_not_refusals(text: str) -> None:
    assert not _is_refusal(text)


@pytest.mark.parametrize(
    "user,reply,refusal",
    [
        # a full task, answered only by a request for the material: nothing of it is done
        (
            "Summarise the following report in three bullet points.",
            "Please provide the report you would like me to summarise.",
            True,
        ),
        # the same ask-back after a set-up message: there was nothing to do yet
        (
            "I will paste a long report in my next message. Wait until I send it.",
            "Sure! Please send me the report whenever you are ready.",
            False,
        ),
        # a greeting answered with AI talk: a GPT-ism, nothing was asked
        (
            "Hey there, how are you today?",
            "Hello! As an AI, I cannot have good or bad days, so there is nothing to tell. "
            "What can I help you with?",
            False,
        ),
    ],
)
def test_the_user_turn_weighs_in(user: str, reply: str, refusal: bool) -> None:
    opener = first_refusal(LIB.find(reply))
    assert opener is not None
    assert JUDGE.judge(reply, opener, LIB.rule_of(opener).lang, user).refusal is refusal


@pytest.mark.parametrize(
    "user,reply",
    [
        # session 5: mid-conversation refusals in words no earlier opener knew (my own wording)
        (
            "wrong, I told you to follow the requirements I gave",
            "I apologize for the confusion. Can you please provide me with the specific requirements "
            "you would like me to follow while writing the script?",
        ),
        ("sdfsdfsdf", "I apologize, but I still do not understand what you are trying to say."),
        ("Continue", "I'm sorry, but I still don't understand what you want me to continue with."),
        (
            "What are the names of the captain's children?",
            "Unfortunately, the names of the captain's children were not mentioned in the information "
            "provided earlier.",
        ),
        (
            "Write each of the five sections as a 3000-word article.",
            "I understand your request, but due to the text limit, I cannot provide each section at "
            "that length. If you would like a shorter version, please let me know.",
        ),
        (
            "Do the same for these cities: Leeds, York, Leeds, York",
            "I apologize again, it seems like you have listed the cities twice. "
            "Please let me know if you have any other questions!",
        ),
    ],
)
def test_mid_conversation_ask_backs_are_refusals(user: str, reply: str) -> None:
    opener = first_refusal(LIB.find(reply))
    assert opener is not None
    assert JUDGE.judge(reply, opener, LIB.rule_of(opener).lang, user).refusal


@pytest.mark.parametrize(
    "user,reply",
    [
        # answers the request, then asks a follow-up question at the end: kept
        (
            "Write a haiku about autumn rain.",
            "Cold rain on the roof,\nmaple leaves drift down the drain,\nthe kettle answers.\n\n"
            "Would you like a few more? Could you provide more details about the tone you want?",
        ),
        # a set-up message answered by asking for the material: nothing was asked yet
        (
            "There is more code to come, wait for the rest.",
            "Alright, please provide the additional code or context and I will look at the whole program.",
        ),
        (
            "I need help writing an article about a contract clause. If you understand, reply "
            "with 'acknowledged'.",
            "Acknowledged. Please provide me with more information about the clause you want to cover.",
        ),
    ],
)
def test_answers_that_ask_a_follow_up_are_kept(user: str, reply: str) -> None:
    opener = first_refusal(LIB.find(reply))
    assert opener is None or not JUDGE.judge(reply, opener, LIB.rule_of(opener).lang, user).refusal


def test_user_turn_before_takes_the_last_user_message() -> None:
    msgs = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "one"},
        {"role": "user", "content": "second"},
        {"role": "assistant", "content": "two"},
    ]
    assert user_turn_before(msgs, 4) == "second"
    assert user_turn_before(msgs, 2) == "first"
    assert user_turn_before(msgs, 0) == ""


@pytest.mark.parametrize(
    "text,expected,removed",
    [
        (
            "As an AI language model, I don't have feelings, but I'm ready to help. What do you need?",
            "I'm ready to help. What do you need?",
            "As an AI language model, I don't have feelings, but",
        ),
        (
            "I'm just a computer program, so I don't have feelings. However, I can help with that.",
            "I can help with that.",
            "I'm just a computer program, so I don't have feelings.",
        ),
        ("Paris is the capital. As an AI, I have never been there.", None, ""),
        ("As an AI language model, I don't have feelings.", None, ""),
    ],
)
def test_strip_ai_opener_cuts_only_an_opening_disclaimer(
    text: str, expected: str | None, removed: str
) -> None:
    hits = [h for h in LIB.find(text) if h.category == "ai_self_reference"]
    assert hits
    out, cut = strip_ai_opener(text, hits)
    assert out == (expected or text) and cut == removed


def test_refusal_figures_in_the_docs_hold_on_real_data() -> None:
    """docs/cleaning.md's in-sample figures on the labelled ShareGPT V3 tuning sets (the judge sees the user turn).

    Every set here has been read and tuned on (report6 is the held-out one and is
    not loaded); the n-gram model fits them closely, so these are no measure of
    generalisation (that is the leave-one-set-out table); the test guards the
    documented figures against regressions.
    """
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "benchmarks"))
    from _sharegpt_v3 import find_dump
    from eval_refusals import TUNING, labelled_exchanges

    dump = find_dump()
    if dump is None:
        pytest.skip("the ShareGPT V3 dump is absent (see benchmarks/_sharegpt_v3.py)")
    exchanges = labelled_exchanges(dump, TUNING)
    for split, min_p, min_r in (
        ("report2", 0.91, 0.95),
        ("fresh-report", 0.98, 0.98),
        ("report3", 0.98, 0.98),
        ("report4", 0.97, 0.89),
        ("report5", 0.98, 0.87),
        ("all", 0.97, 0.95),
    ):
        items = [(r, u, t) for r, u, t in exchanges if split in ("all", r["split"])]
        pred = []
        for _, user, text in items:
            opener = first_refusal(LIB.find(text))
            pred.append(
                opener is not None
                and JUDGE.judge(text, opener, LIB.rule_of(opener).lang, user).refusal
            )
        gold = [r["label"] == "refusal" for r, _, _ in items]
        tp = sum(p and g for p, g in zip(pred, gold))
        assert tp / sum(pred) >= min_p and tp / sum(gold) >= min_r, (
            split,
            tp,
            sum(pred),
            sum(gold),
        )
