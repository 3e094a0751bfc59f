"""Person names from their context: greetings, titles, sign-offs, "my colleague X", "X said", headers, lists.

The small spaCy NER misses many names, above all non-English ones, or labels
them ORG or GPE ("Karan Manda", "Sabine's"), while the words around a name in a
chat often say plainly that it is one.  Each rule here is such a context: a
regular expression that marks where the name must stand, and a check of the
name itself against spaCy's part-of-speech tags (so "Hi everyone," or "Research
suggests" never count).  No list of names is used: the name can come from any
culture as long as it is written like one (a capital, then letters).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, NamedTuple

import regex
from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult

#: One word of a name: "Anna", "O'Brien", "S'fiso", "McDonald", "Inga-Lill", "Łukasz"; not "GitHub".
_WORD = (
    r"(?:\p{Lu}(?:['’]\p{Lu}?)?\p{Ll}+|(?:Mc|Mac|Fitz|De|Di|Da|Du|La|Le|Van|Von)\p{Lu}\p{Ll}+)"
    r"(?:-\p{Lu}?\p{Ll}+)*"
)
#: Lower-case parts of surnames ("Isaac das Neves", "Ludwig van Beethoven") and middle initials.
_LINK = r"(?:(?:van|von|de|da|das|do|dos|del|della|der|den|di|du|la|le|ten|ter|bin|binti|ibn|al|el|Ó|Ní|Mac|Nic)[ \t]+|\p{Lu}\.[ \t]+)*"
#: One to four name words on one line, not inside a longer word ("MinutePhysics", "/u/CruxHub").
NAME = rf"(?<![\p{{L}}\p{{N}}_/@.-]){_WORD}(?:[ \t]+{_LINK}{_WORD}){{0,3}}(?![\p{{L}}\p{{N}}_])"


def _alt(words: str, first: str = "either") -> str:
    """An alternation of space-separated phrases ("_" for a space) whose first letter is a capital, lower
    case, or either: "Hi Anna" and "hi Anna", but not "HI"; "my boss" but not "our BOSS Model"."""
    out = []
    for w in words.split():
        w = regex.escape(w.replace("_", " ")).replace(r"\ ", "[ \t]+")
        initial = {"lower": w[0], "upper": w[0].upper(), "either": f"[{w[0].upper()}{w[0]}]"}[first]
        out.append(initial + w[1:])
    return "(?:" + "|".join(out) + ")"


#: Words of family, work and friendship that introduce or describe a person ("my colleague", "her aunt").
_RELATION = _alt(
    """colleague colleagues coworker co-worker coworkers manager boss supervisor team_lead director
founder co-founder cofounder employee intern assistant client customer tenant landlord landlady neighbor neighbour
roommate flatmate housemate friend friends best_friend girlfriend boyfriend partner wife husband spouse fiance
fiancé fiancée son sons daughter daughters kid kids child children brother brothers sister sisters sibling siblings
mom mum mother dad father parents grandma grandmother grandpa grandfather aunt uncle cousin niece nephew teammate
classmate student students teacher tutor professor mentor mentee coach doctor therapist lawyer advisor adviser
recruiter mother-in-law father-in-law stepmom stepdad stepson stepdaughter""",
    first="lower",
)
_PERSON_NOUN = _alt("person guy man woman girl boy lady gentleman baby", first="lower")
#: What a person has, after a possessive: "Michela's presentation", "Tomasz's wife".
#: Organisations have reports, offers and portfolios too, so those are left out.
_BELONGING = _alt(
    """presentation email e-mail message letter resume résumé cv essay thesis feedback birthday wedding
party graduation retirement promotion interview phone number address house home apartment flat car room desk
family mom mum mother dad father wife husband son daughter kids children brother sister friend boyfriend girlfriend
parents baby dog cat salary health diagnosis visa passport appointment surgery homework grades""",
    first="lower",
)
#: Titles before a name; the abbreviations may end in a full stop ("Dr. Rogge"), the words may not ("King. However").
_TITLE = (
    r"(?:(?:Mr|Mrs|Ms|Mx|Dr|Prof|Rev|Capt|Mme|Mlle|Sgt|Lt)\.?|Miss|Professor|Sir|Dame|Lady|Lord|Madame|Herr|"
    r"Frau|Señor|Señora|Captain|Coach|Officer|Judge|Senator|Aunt|Uncle|Auntie|King|Queen|Prince|Princess)"
)
_SPEECH = _alt(
    """said says asked asks told tells wrote writes mentioned mentions replied replies emailed texted
messaged suggested explained explains thinks believes wants wanted agreed agrees complained promised
insisted recommended noticed shared invited introduced apologized apologised laughed smiled nodded shouted
whispered cried called_me sent_me reminded warned confirmed decided""",
    first="lower",
)
_SIGN_OFF = _alt("""best best_regards kind_regards warm_regards warmest_regards regards best_wishes all_the_best
sincerely yours_sincerely yours_truly yours_faithfully yours respectfully cordially cheers thanks thank_you
many_thanks thanks_again thx love with_love take_care talk_soon hugs xoxo""")
_HEADER = (
    _alt(
        """from to cc bcc attn attention attendees participants present absent author authors name full_name
contact contact_person reviewer reviewers assignee owner signed candidate applicant patient client customer tenant
employee student instructor speaker speakers host guest guests recipient sender prepared_by submitted_by
written_by reported_by created_by approved_by requested_by""",
        first="upper",
    )
    + "|CC|BCC"
)
_GREETING = _alt(
    "hi hello hey hiya howdy dear greetings good_morning good_afternoon good_evening good_day thanks "
    "thank_you welcome congratulations congrats happy_birthday sorry bye goodbye"
)
_MESSAGE = _alt(
    "letter email e-mail message note card reply toast speech poem eulogy tribute recommendation "
    "apology memo gift wishes",
    first="lower",
)
_GROUP = _alt(
    "team group members attendees participants speakers guests panelists students children kids "
    "siblings friends colleagues winners finalists candidates authors founders",
    first="lower",
)
#: Verbs whose object is a person: "We are hiring Sonja Friis", "please remind Anna".
#: Not "tell" and "told": interviews are "told Us Weekly", "told Cosmopolitan".
_PERSON_OBJECT = _alt(
    """hire hired hiring ask asked asking remind reminded thank thanked invite invited
email emailed text texted meet met introduce introduced congratulate congratulated ping pinged promote promoted
interview interviewed marry married""",
    first="lower",
)
#: Roles after a name: "Njabulo Dludla (Head of Sales)", "Anna Keller, our new hire,".
_ROLE = _alt(
    """head lead manager director ceo cto cfo coo vp engineer designer developer intern assistant officer
chair editor reviewer author contractor employee consultant analyst founder president secretary coordinator
specialist recruiter hire colleague teammate""",
    first="either",
)
_SELF = _alt("my_name_is my_name's call_me they_call_me i_am_called")
_THIS_IS = _alt("this_is it's it_is")
_POSSESSIVE = _alt("my our his her their your")
#: A list of names: "Anna, Tom and Maria", "Anna Keller & Tom Nowak".
_NAMES = rf"{NAME}(?:[ \t]*(?:,|;|,?[ \t]+and|,?[ \t]+&)[ \t]+{NAME})+"
_MAILBOX = rf"{NAME}(?:[ \t]*<[^>\n]*>)?"

#: Before a name in a weak context: a determiner ("the Methodist said") or an acronym ("XYZ Architecture's").
_NOT_BEFORE = r"(?:(?i:\b(?:the|a|an|of|this|that|these|those|its))|\b\p{Lu}{2,})[ \t]+$"
#: Before the speaker of "X said": a preposition too ("a video from Veritasium explains", "the option in Nmap tells").
_NOT_BEFORE_SPEAKER = r"(?:(?i:\b(?:the|a|an|of|this|that|these|those|its|in|on|at|from|with|by|to|for|about|into|via))|\b\p{Lu}{2,})[ \t]+$"


class Rule(NamedTuple):
    """A context where a name stands.

    The name is the group "name" of ``pattern`` (or every name in its group "names").
    A ``strong`` context accepts a name word that spaCy tags as a common noun
    ("Good morning Filipe!" -> NN); a weak one wants proper nouns, and no
    ``not_before`` text before the name.  ``anchor`` is the side of the context:
    a name is cut from there at its first word that fails the check ("Yesterday
    Anna told me" keeps "Anna"); "whole" rejects the name instead, where the
    context ends it ("Dear Wispr Team,").
    """

    name: str
    pattern: regex.Pattern[str]
    strong: bool
    anchor: str
    not_before: regex.Pattern[str] | None = None


def _rule(
    name: str, pattern: str, strong: bool, anchor: str, not_before: str | None = None
) -> Rule:
    flags = regex.MULTILINE | regex.V1
    return Rule(
        name,
        regex.compile(pattern, flags),
        strong,
        anchor,
        regex.compile(not_before, flags) if not_before else None,
    )


RULES: tuple[Rule, ...] = (
    _rule("title", rf"\b{_TITLE}(?:[ \t]+{_TITLE})*[ \t]+(?P<name>{NAME})", True, "left"),
    _rule(
        "greeting",
        rf"(?<![\p{{L}}\d])(?:{_GREETING})[ \t]*,?[ \t]+(?P<name>{NAME})(?=[ \t]*(?:[,!:;.?\n—–-]|$))",
        True,
        "whole",
    ),
    _rule("self_intro", rf"(?<!\p{{L}})(?:{_SELF})[ \t]+(?P<name>{NAME})", True, "left"),
    _rule(
        "i_am",
        rf"(?<!\p{{L}})(?:I'm|I’m|I[ \t]+am|i'm|i[ \t]+am)[ \t]+(?P<name>{NAME})"
        rf"(?=[ \t]*(?:[,.!;:\n)]|$|[ \t]+(?:and|from|here)\b))",
        True,
        "whole",
    ),
    _rule(
        "this_is",
        rf"(?<!\p{{L}})(?:{_THIS_IS})[ \t]+(?P<name>{NAME})[ \t]+(?:from|here|speaking)\b",
        True,
        "whole",
    ),
    _rule(
        "relation",
        rf"(?<!\p{{L}})(?:{_POSSESSIVE})[ \t]+(?:\p{{Ll}}+[ \t]+)?{_RELATION}[ \t]*,?[ \t]+(?P<name>{NAME})",
        False,
        "left",
    ),
    _rule(
        "named",
        rf"(?<!\p{{L}})(?:{_RELATION}|{_PERSON_NOUN})[ \t]+named[ \t]+(?P<name>{NAME})",
        True,
        "left",
    ),
    _rule(
        "relation_after",
        rf"(?P<name>{NAME})(?:[ \t]+(?:is|was|has[ \t]+been)|[ \t]*,)[ \t]+(?:my|our)[ \t]+"
        rf"(?:\p{{Ll}}+[ \t]+)?{_RELATION}\b",
        False,
        "right",
        _NOT_BEFORE,
    ),
    _rule(
        "speech",
        rf"(?P<name>{NAME})[ \t]+(?:(?:also|then|just|already|never|always|once|later|finally|recently)[ \t]+)?"
        rf"{_SPEECH}\b",
        False,
        "right",
        _NOT_BEFORE_SPEAKER,
    ),
    _rule(
        "possessive",
        rf"(?P<name>{NAME})['’]s[ \t]+(?:\p{{Ll}}+[ \t]+)?{_BELONGING}\b",
        False,
        "right",
        _NOT_BEFORE,
    ),
    _rule(
        "message_to",
        rf"(?<!\p{{L}}){_MESSAGE}[ \t]+(?:to|for|from|addressed[ \t]+to)[ \t]+(?P<name>{NAME})",
        False,
        "left",
    ),
    _rule("object", rf"(?<!\p{{L}}){_PERSON_OBJECT}[ \t]+(?P<name>{NAME})", False, "left"),
    _rule(
        "role_after",
        rf"(?P<name>{NAME})(?:[ \t]*\([^()\n]{{0,30}}\b{_ROLE}\b[^()\n]{{0,30}}\)|,[ \t]+(?:our|my|the|their|your)"
        rf"[ \t]+(?:\p{{Ll}}+[ \t]+)?{_ROLE}\b)",
        False,
        "right",
        _NOT_BEFORE,
    ),
    _rule(
        "me_and",
        rf"(?P<name>{NAME})[ \t]+and[ \t]+I\b|\b(?:me|I)[ \t]+and[ \t]+(?P<name>{NAME})",
        False,
        "left",
        _NOT_BEFORE_SPEAKER,
    ),  # not "I am in Tokyo and I want"
    _rule(
        "mention",
        rf"(?<![\w.@])@(?P<name>{_WORD}(?:[ \t]+{_WORD})?)(?=[ \t]*[,:]|[ \t]+(?:can|could|please|would|will|thanks|"
        rf"thank|what|do|did|are|is|you|I|any)\b)",
        True,
        "whole",
    ),
    _rule(
        "sign_off",
        rf"^[ \t]*(?:{_SIGN_OFF})(?:[ \t]+[\p{{L}} ]{{1,20}})?[ \t]*[,!.—-]?[ \t]*\n"
        rf"[ \t]*(?P<name>{NAME})[ \t]*,?[ \t]*$",
        True,
        "whole",
    ),
    _rule(
        "header",
        rf"^[ \t]*(?:{_HEADER})[ \t]*:[ \t]*(?P<names>{_MAILBOX}(?:[ \t]*(?:,|;|,?[ \t]+and|&)[ \t]*{_MAILBOX})*)"
        rf"[ \t]*$",
        True,
        "whole",
    ),
    _rule(
        "group",
        rf"(?<!\p{{L}}){_GROUP}[ \t]+(?:is|are|was|were|includes?|included|including)[ \t]*:?[ \t]+"
        rf"(?P<names>{_NAMES})",
        False,
        "whole",
        _NOT_BEFORE,
    ),
)
#: The rule that spreads a name to the other names of its list ("my colleagues Anna and Tom").
_LIST_RULE = Rule(
    "list", regex.compile(_NAMES, regex.V1), False, "whole", regex.compile(_NOT_BEFORE, regex.V1)
)
_ONE = regex.compile(NAME, regex.V1)
_DIGIT_AFTER = regex.compile(r"[ \t]*\d")
#: After a name: "Head of Change Management", "Knight of Yore" are roles, not names.
_OF_AFTER = regex.compile(r"[ \t]+of\b")

#: Tags that no word of a name carries: pronouns, determiners, prepositions, verbs, numbers.
_NOT_NAME_TAGS = frozenset(
    {
        "PRP",
        "PRP$",
        "DT",
        "PDT",
        "WDT",
        "WP",
        "WP$",
        "WRB",
        "IN",
        "CC",
        "MD",
        "EX",
        "CD",
        "UH",
        "TO",
        "RP",
        "VB",
        "VBD",
        "VBG",
        "VBN",
        "VBP",
        "VBZ",
    }
)
_PROPER = frozenset({"NNP", "NNPS"})
#: spaCy entity labels that are never a person: "I'm Canadian", "a letter in French".
_NOT_PERSON_LABELS = frozenset({"LANGUAGE", "MONEY", "PERCENT", "QUANTITY", "CARDINAL", "ORDINAL"})
#: Capitalised words that stand where a name would but are not one: "Hi everyone", "Dear Hiring Manager",
#: "Hello World", "Thanks, ChatGPT", "Best regards,\nThe Team", "From: Customer Support".
STOP_WORDS = frozenset(
    """
all everyone everybody anyone someone team teams there guys folks friends friend sir sirs madam ma'am world
chatgpt gpt bard bing assistant bot ai siri alexa google cortana copilot mom mum dad mama papa mommy daddy
grandma grandpa granny honey babe baby darling sweetie love buddy mate bro dude boss doc coach teacher class
father mother brother sister son daughter professor captain officer judge senator aunt uncle auntie dame
madame herr frau students ladies gentlemen women men colleagues hiring manager managers recruiter customer
customers client clients valued member members committee board reader readers user users admin support sales
marketing hr department inc corp ltd llc gmbh group company university college school bank the my your our
this that no yes ok okay well again so much very god lord santa diary neighbor neighbour neighbors neighbours
parents kids children community reddit twitter internet people person name first last full mr mrs ms dr prof
miss mx sr jr ii iii iv phd md esq ceo cto cfo coo vp director president chair editor author speaker host
guest agent operator interviewer interviewee candidate applicant patient tenant landlord owner note example
input output question answer step title subject date time summary description location address email phone re
fwd fw attachment hello hi hey dear thanks thank regards best sincerely cheers welcome sorry morning evening
afternoon night day today tomorrow yesterday monday tuesday wednesday thursday friday saturday sunday january
february march september october november december english french german spanish italian chinese japanese
korean russian arabic hindi portuguese dutch polish turkish angel mistress master lady king queen prince
princess fan fans goodbye bye congratulations congrats head chief senior junior principal executive advisor
adviser consultant analyst engineer engineering developer designer specialist coordinator associate
representative partner partners firm law management managing former acting deputy vice secretary treasurer
founder cofounder staff faculty science sciences studies technology systems solutions services institute
foundation association society council center centre office division lab garden gardens hotel park street road
bridge museum hall church hospital airport station square palace castle temple restaurant cafe club however
overall total next america american europe european asia africa london paris christmas easter halloween
thanksgiving valentine hanukkah diwali eid ramadan
""".split()
)  # noqa: SIM905 (a word list reads better as text)


class PersonContextRecognizer(EntityRecognizer):
    """Names in the contexts of :data:`RULES`, checked against spaCy's tags; then every name in a list with one."""

    #: Below spaCy's 0.85, so a span that both find is credited to spaCy (Presidio keeps one of two equal spans).
    SCORE: ClassVar[float] = 0.8

    def __init__(self) -> None:
        super().__init__(
            supported_entities=["PERSON"], name="PersonContextRecognizer", supported_language="en"
        )

    def load(self) -> None:
        """Nothing to load: the rules are regular expressions and the tags come with the NLP artifacts."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        if "PERSON" not in entities or nlp_artifacts is None:
            return []
        doc = nlp_artifacts.tokens
        found: dict[tuple[int, int], str] = {}
        for rule in RULES:
            for m in rule.pattern.finditer(text):
                if "names" in rule.pattern.groupindex:
                    candidates = [
                        (n.start(), n.end())
                        for n in _ONE.finditer(text, m.start("names"), m.end("names"))
                    ]
                else:
                    candidates = [m.span("name")]
                for start, end in candidates:
                    span = _checked(doc, text, start, end, rule)
                    if span:
                        found.setdefault(span, rule.name)
        seeds = list(found)
        for m in _LIST_RULE.pattern.finditer(text):
            if any(s < m.end() and e > m.start() for s, e in seeds):
                for n in _ONE.finditer(text, m.start(), m.end()):
                    span = _checked(doc, text, n.start(), n.end(), _LIST_RULE)
                    if span and not any(s < span[1] and e > span[0] for s, e in found):
                        found[span] = _LIST_RULE.name
        return [
            RecognizerResult(
                "PERSON",
                s,
                e,
                self.SCORE,
                AnalysisExplanation(self.name, self.SCORE, pattern_name=rule),
            )
            for (s, e), rule in found.items()
        ]


def _words(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The words of a candidate: a name is judged, and cut, word by word."""
    for m in regex.finditer(r"[^ \t]+", text[start:end]):
        yield start + m.start(), start + m.end()


def _checked(doc: Any, text: str, start: int, end: int, rule: Rule) -> tuple[int, int] | None:
    """The part of a candidate that reads as a name (see :class:`Rule`), or None."""
    strong, anchor = rule.strong, rule.anchor
    words = list(_words(text, start, end))
    if anchor == "right":
        words.reverse()
    kept: list[tuple[int, int]] = []
    for a, b in words:
        word = text[a:b]
        if word[:1].islower() or word.endswith("."):
            kept.append(
                (a, b)
            )  # a link ("van", "de") or an initial: kept only between two name words
        elif _name_word(doc, a, b, word, strong):
            kept.append((a, b))
        elif anchor == "whole":
            return None
        else:
            break
    while kept and (text[kept[-1][0]].islower() or text[kept[-1][1] - 1] == "."):
        kept.pop()
    if not kept:
        return None
    s, e = min(a for a, _ in kept), max(b for _, b in kept)
    if _DIGIT_AFTER.match(text, e) or (not strong and _OF_AFTER.match(text, e)):
        return (
            None  # "Genesis 26:3", "Windows 10": a name is not numbered; "Head of Sales" is a role
        )
    if rule.not_before is not None and rule.not_before.search(text, max(0, s - 12), s):
        return None  # "the Methodist said", "the house of Health suggests", "XYZ Architecture's portfolio"
    span = doc.char_span(s, e, alignment_mode="expand")
    if span is not None and any(_not_person(ent, strong) for ent in span.ents):
        return None
    return s, e


def _not_person(ent: Any, strong: bool) -> bool:
    """An entity that a name is not: "I'm Canadian" (NORP, an adjective), "married in June" (DATE, unless
    a strong context such as "Hi June," says otherwise); a proper noun spaCy calls NORP ("Lina") may be one."""
    if ent.label_ == "NORP":
        return any(t.tag_ != "NNP" for t in ent)
    return ent.label_ in _NOT_PERSON_LABELS or (not strong and ent.label_ in ("DATE", "TIME"))


def _name_word(doc: Any, start: int, end: int, word: str, strong: bool) -> bool:
    """Whether one word can belong to a name, from its spelling and spaCy's tag (see :class:`Rule`)."""
    if word.casefold() in STOP_WORDS:
        return False
    span = doc.char_span(start, end, alignment_mode="expand")
    if span is None:
        return False
    tags = [t.tag_ for t in span if any(c.isalpha() for c in t.text)]  # "@Igor" is one token
    if not tags:
        return False
    if strong:
        return not any(t in _NOT_NAME_TAGS for t in tags)
    return all(t in _PROPER for t in tags)
