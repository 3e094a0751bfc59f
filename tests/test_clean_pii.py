"""PII: every entity type is found in several formats, the false-positive guards hold, redaction is consistent."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instructkit.clean.pii import Placeholders, detector, redact, redact_record, scan_record

pytestmark = pytest.mark.slow  # Presidio's import and setup take ~10-20 s


@pytest.fixture(scope="module")
def det():
    return detector()


@pytest.mark.parametrize(
    "text,value,entity",
    [
        ("Write to maria.keller@posteo.de today", "maria.keller@posteo.de", "EMAIL_ADDRESS"),
        ("Call me on +44 20 7946 0018 tomorrow", "+44 20 7946 0018", "PHONE_NUMBER"),
        ("my phone is (415) 555-2671", "(415) 555-2671", "PHONE_NUMBER"),
        ("Tel: 030 22700514", "030 22700514", "PHONE_NUMBER"),
        ("card 4556 7375 8689 9855 exp 09/27", "4556 7375 8689 9855", "CREDIT_CARD"),
        ("IBAN DE89 3704 0044 0532 0130 00 please", "DE89 3704 0044 0532 0130 00", "IBAN_CODE"),
        ("ssh into 81.169.145.92 as root", "81.169.145.92", "IP_ADDRESS"),
        ("the server is at 2a00:1450:4001:82b::200e now", "2a00:1450:4001:82b::200e", "IP_ADDRESS"),
        ("SSN 536-22-8726 on file", "536-22-8726", "US_SSN"),
        (
            "He lives at 742 Evergreen Terrace, Springfield",
            "742 Evergreen Terrace, Springfield",
            "STREET_ADDRESS",
        ),
        (
            "Dinner at (Address: 38/2 Moon Muang Road, Sri Phum)",
            "38/2 Moon Muang Road, Sri Phum",
            "STREET_ADDRESS",
        ),
        (
            "key = sk-proj-4fG7hJ2kL9mN3pQ8rS1tU6vW0xY5zA",
            "sk-proj-4fG7hJ2kL9mN3pQ8rS1tU6vW0xY5zA",
            "SECRET",
        ),
        ("aws AKIAZ7TQ4XK2M9PL3RWB here", "AKIAZ7TQ4XK2M9PL3RWB", "SECRET"),
        (
            "token ghp_Xk29dLq81mZpT4vRw7YbN3cF6hJ0sA5uE2gK ok",
            "ghp_Xk29dLq81mZpT4vRw7YbN3cF6hJ0sA5uE2gK",
            "SECRET",
        ),
        (
            "DB postgres://admin:Tr0ub4dor@db.internal.acme.io:5432/app",
            "postgres://admin:Tr0ub4dor@db.internal.acme.io:5432/app",
            "URL_CREDENTIALS",
        ),
    ],
)
def test_entities_are_found(det, text: str, value: str, entity: str) -> None:
    found = [(e.type, text[e.start : e.end]) for e in det.find(text)]
    assert (entity, value) in found, found


def test_private_key_block_and_jwt(det) -> None:
    key = (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7s1uHZ2xq9\n-----END RSA PRIVATE KEY-----"
    )
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    assert {e.type for e in det.find(f"key:\n{key}\nand {jwt}")} == {"SECRET"}
    assert len(det.find(f"key:\n{key}\nand {jwt}")) == 2


@pytest.mark.parametrize(
    "text",
    [
        "Upgrade numpy to 1.21.0.1 and Python 3.10.4",
        "pip install torch==2.1.0.0",
        "ISBN 978-3-16-148410-0",
        "The meeting is on 2023-01-15 at 10:30.",
        "x = 1234567890 * 2",
        "Contact us at info@example.com or jane@test",
        "Use the test card 4111 1111 1111 1111 in the sandbox.",
        "the value is -0.19449914 and 0.57737689",
        "connect to 192.168.1.100 or 127.0.0.1",
        "std::vector<int> v; Add::b;",
        "CAS number 2060571-02-8",
        "Order at 123 Main St. for pickup",
        'SLACK_TOKEN = "xoxp-your-token-here"',
        "'postgresql://dbuser:dbpassword@database_host:5432/dbname'",
        "I'm still getting [20 20 18 22 20] instead",
        "Sample output: 1 2 3 4 5 6 7 8 9 10",
        '<link href="https://unpkg.com/leaflet@1.7.1/dist/leaflet.css">',
        "scores 0.15573301443004656, 0.1668444947332441",
        "FEI/EIN Number 35-2479321, Meeting ID: 3903 03 5809 3",
        "nmap -sL 192.168.1.0/24",
    ],
)
def test_false_positive_guards(det, text: str) -> None:
    assert det.find(text) == [], [(e.type, text[e.start : e.end], e.rule) for e in det.find(text)]


def test_placeholders_are_consistent_in_a_conversation(det) -> None:
    p = Placeholders()
    a = "mail ann@corp-mail.de or bob@corp-mail.de"
    b = "again: bob@corp-mail.de"
    ra, rb = redact(a, det.find(a), p), redact(b, det.find(b), p)
    assert ra == "mail <EMAIL> or <EMAIL_2>"
    assert rb == "again: <EMAIL_2>"


def test_alpaca_input_in_meta_is_redacted_the_same_way(det) -> None:
    inp = "Contact: lena.vogt@posteo.de"
    rec = {
        "id": "x",
        "source": "t",
        "meta": {"input": inp},
        "messages": [
            {"role": "user", "content": "Extract the e-mail.\n\n" + inp},
            {"role": "assistant", "content": "lena.vogt@posteo.de"},
        ],
    }
    redact_record(rec, scan_record(rec, det))
    assert rec["meta"]["input"] == "Contact: <EMAIL>"
    assert rec["messages"][0]["content"] == "Extract the e-mail.\n\nContact: <EMAIL>"
    assert rec["messages"][1]["content"] == "<EMAIL>"


def test_line_phone_recognizer_finds_what_presidio_finds() -> None:
    """Line by line and region-gated, the phone spans are Presidio's own, in the same order."""
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from instructkit.clean.pii import DEFAULT_REGIONS
    from instructkit.clean.pii_recognizers import LinePhoneRecognizer

    text = (
        "Call +1 415 555 2671 or 030/123456 (Berlin), fax 020 7946 0958.\n"
        "coords = [0.123, 0.456, 1.5]; id 20210315 at 10:30\n"
        "Tel: 06 12 34 56 78, ext. 12\n\n+44 20 7946 0958x\n1-800-555-0199"
    )
    regions = list(DEFAULT_REGIONS)
    ours = LinePhoneRecognizer(supported_regions=regions).analyze(text, ["PHONE_NUMBER"])
    plain = PhoneRecognizer(supported_regions=regions).analyze(text, ["PHONE_NUMBER"])
    assert [(r.start, r.end, r.score) for r in ours] == [(r.start, r.end, r.score) for r in plain]
    assert len(ours) >= 4


#: Characters phone candidates are made of, and some that end them.
_PHONE_CHARS = "0123456789 +-().x/:#,;\n|aext~\t\xa0"


def _phone_spans(recognizer, text: str) -> list[tuple[int, int]]:
    return sorted((r.start, r.end) for r in recognizer.analyze(text, ["PHONE_NUMBER"]))


@pytest.fixture(scope="module")
def phone_pair():
    """Presidio's recognizer on the whole text, and ours per segment without the digit minimum."""
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from instructkit.clean.pii import DEFAULT_REGIONS
    from instructkit.clean.pii_recognizers import LinePhoneRecognizer

    regions = list(DEFAULT_REGIONS)
    return PhoneRecognizer(supported_regions=regions), LinePhoneRecognizer(regions, min_digits=0)


@pytest.mark.parametrize(
    "text",
    [
        "Call +1 415 555 2671 or 030/123456 (Berlin), fax 020 7946 0958.",
        "office: 020 7946 0958 ext. 12, mobile 07700 900123",
        "|+44 20 7946 0958|(415) 555-2671|",
        "2012-01-02 08:00 and 2012-01-02 08:00:31 and 415-555-2671:30",
        "abc4155552671 4155552671def $4155552671 4155552671% 4155552671",
        "0.463 22.455 -31.270, 1.5, 2.5 / x 415 555 2671",
        "tel.+49 30 1234567#1 ;ext=22 int 33 доб 44 anexo 55",
    ],
)
def test_segment_phone_matching_equals_presidio(phone_pair, text: str) -> None:
    plain, ours = phone_pair
    assert _phone_spans(ours, text) == _phone_spans(plain, text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["+44 20 7946 0958", "(415) 555-2671", "030 22700514", " ext. 12"]),
            st.text(alphabet=_PHONE_CHARS, max_size=14),
        ),
        max_size=6,
    ).map("".join)
)
def test_segment_phone_matching_equals_presidio_on_generated_texts(phone_pair, text) -> None:
    plain, ours = phone_pair
    assert _phone_spans(ours, text) == _phone_spans(plain, text)


def test_segments_come_from_phonenumbers_own_pattern() -> None:
    """The candidate alphabet holds digits, phone punctuation and extension labels, never a newline."""
    from phonenumbers import phonenumbermatcher

    from instructkit.clean.pii_recognizers import pattern_alphabet

    member = pattern_alphabet(phonenumbermatcher._PATTERN)
    for ch in "0٣+-(). x/~extEXTдоб#;=,\t":
        assert member.match(ch), ch
    for ch in "\n|\"'bcdfqz_{}<>!?":
        assert not member.match(ch), ch
    with pytest.raises(ValueError):
        pattern_alphabet(re.compile(r"a.b"))


def test_skipping_short_segments_changes_no_entity(det) -> None:
    """The guard drops numbers under 8 digits without a '+', so not matching them changes nothing."""
    from instructkit.clean.pii import PHONE_MIN_DIGITS, PiiConfig, PiiDetector
    from instructkit.clean.pii_recognizers import LinePhoneRecognizer

    everything = PiiDetector(PiiConfig())
    for r in everything.engine.registry.recognizers:
        if isinstance(r, LinePhoneRecognizer):
            r.min_digits = 0
    assert PHONE_MIN_DIGITS == 8
    for text in [
        "call 555-1234 or +1 415 555 2671",
        "ids 1234 5678, 12-34-56, tel 0301234567",
        "+49 30 1234 and 030 1234",
        "phone: 7946 0958",
    ]:
        assert det.find(text) == everything.find(text)


_TRIGGER_CHARS = "ab:f1.2G gh_pousrKEYkeytokenSECRETsk-AKIAxoxeyJ\u212a\u0130\u017f\u0131 _"


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=_TRIGGER_CHARS, max_size=16))
def test_fast_triggers_say_what_the_single_regexes_said(text: str) -> None:
    """The secret and IP triggers were one regex each; the faster forms fire on exactly the same texts."""
    from instructkit.clean.pii import _TRIGGERS

    secret = re.compile(
        r"sk-|AKIA|ASIA|gh[pousr]_|github_pat_|xox|AIza|_live_|_test_|eyJ|PRIVATE KEY|(?i:key|token|secret)"
    )
    ip = re.compile(r"\d\.\d|[0-9a-fA-F]:[0-9a-fA-F]*:")
    assert bool(_TRIGGERS["SECRET"](text)) == bool(secret.search(text))
    assert bool(_TRIGGERS["IP_ADDRESS"](text)) == bool(ip.search(text))


#: Pieces of every kind of PII, near misses and characters that case folding treats specially.
_PII_FRAGMENTS = [
    "maria.keller@posteo.de",
    "a@b",
    "+44 20 7946 0018",
    "(415) 555-2671",
    "4556 7375 8689 9855",
    "DE89 3704 0044 0532 0130 00",
    "81.169.145.92",
    "2a00:1450:4001:82b::200e",
    "::ffff:10.0.0.1",
    "536-22-8726",
    "742 Evergreen Terrace, Springfield",
    "Hauptstraße 5, 10115 Berlin",
    "sk-proj-4fG7hJ2kL9mN3pQ8rS1tU6vW0xY5zA",
    "AKIAZ7TQ4XK2M9PL3RWB",
    "ghp_Xk29dLq81mZpT4vRw7YbN3cF6hJ0sA5uE2gK",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdefghijk",
    "API_KEY = 'Ab3dEf6hIj9kLm2nOp5qRs8t'",
    "postgres://admin:Tr0ub4dor@db.internal.acme.io:5432/app",
    "https://x.io/a?token=abc123def456ghi",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA12345678901234567890\n-----END RSA PRIVATE KEY-----",
    " Street ",
    "\u212a\u0130\u017f\u0131",
    "\n",
    ": ",
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(st.sampled_from(_PII_FRAGMENTS), st.text(max_size=10)), min_size=1, max_size=6
    ).map("".join)
)
def test_pattern_gate_changes_no_entity(det, text: str) -> None:
    """Leaving out the entity types whose patterns cannot match (Hyperscan gate) finds the same spans."""
    import regex

    pytest.importorskip("hyperscan")
    assert det._gate is not None
    possible = det._gate(text)
    if possible is not None:
        for rec in det.engine.registry.recognizers:
            for p in getattr(rec, "patterns", []):
                if regex.search(p.regex, text, flags=rec.global_regex_flags or 0):
                    assert rec.supported_entities[0] in possible, (p.name, text)
    gate, det._gate = det._gate, None
    try:
        ungated = det._find(text)
    finally:
        det._gate = gate
    assert det._find(text) == ungated


def test_presidio_is_imported_without_transformers() -> None:
    """Start-up: the PII engine does not pull in transformers, and transformers still imports afterwards."""
    import subprocess
    import sys

    code = (
        "import sys, importlib.util\n"
        "from instructkit.clean.pii import detector\n"
        "detector().find('mail bob@gmail.com')\n"
        "print('transformers' in sys.modules)\n"
        "if importlib.util.find_spec('transformers'):\n"
        "    import transformers; print(bool(transformers.__version__))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.split()
    assert lines[0] == "False"
    assert lines[1:] in ([], ["True"])
