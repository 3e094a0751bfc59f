"""Instruction complexity from a dependency parse: the classic syntactic-complexity measures.

Why these features: Evol-Instruct makes an instruction harder by adding
constraints, deepening, concretising, adding reasoning steps and complicating
the input; each of those leaves a trace in the parse — more tokens and clauses,
deeper dependency trees, more distinct actions (verb lemmas) and more explicit
constraints.  The sentence/clause measures follow the L2 Syntactic Complexity
Analyzer (Lu, 2010); dependency depth follows Yngve/Gibson-style memory-load
arguments.

Speed: spaCy parses with NER excluded, through ``nlp.pipe`` in batches, in one
process: the matrix products run on NumPy's BLAS, whose threads already use both
cores (two spaCy processes measured 2x slower than one, 404 vs 860 texts/s on
4,000 texts, since each re-loads the model and their BLAS threads compete).
Everything after the parse is vectorised over the whole batch: the documents'
token arrays are concatenated and dependency depth is computed by pointer
jumping in NumPy, not by walking trees in Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from spacy.attrs import (
    DEP,
    HEAD,
    IS_ALPHA,
    IS_PUNCT,
    IS_SPACE,
    LEMMA,
    LENGTH,
    LOWER,
    POS,
    SENT_START,
    TAG,
)
from spacy.tokens import Doc

from instructkit.models.spacy_model import DEFAULT_SPACY_MODEL, load_spacy

#: Pipeline parts the features do not need as such: the attribute ruler (fine tag -> coarse
#: POS) and the lemmatizer take about half of the small English model's time (825 vs 407
#: parses/s measured).  Verbs come from the fine tags instead, auxiliaries by their
#: dependency or a form of "be", and only verb forms are lemmatised (:meth:`_lemmas`).
SKIPPED_COMPONENTS = ("attribute_ruler", "lemmatizer")
VERB_TAGS = ("VB", "VBD", "VBG", "VBN", "VBP", "VBZ")
AUX_DEPS = ("aux", "auxpass")
BE_FORMS = ("be", "am", "is", "are", "was", "were", "been", "being", "'s", "'re", "'m")

#: Dependency labels that head a clause (besides each sentence's root).
CLAUSE_DEPS = ("ccomp", "xcomp", "advcl", "acl", "relcl", "csubj", "csubjpass", "parataxis")
QUESTION_WORDS = frozenset(
    [
        "what",
        "why",
        "how",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "is",
        "are",
        "was",
        "were",
        "do",
        "does",
        "did",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
    ]
)

#: Explicit constraints in the Evol-Instruct sense ("add constraints or requirements").
CONSTRAINT_RE = re.compile(
    r"\b(?:at (?:least|most)|no (?:more|less|fewer) than|(?:more|less|fewer) than|exactly|must|should|"
    r"without|do(?:es)? not|don't|never|avoid|only|ensure|make sure|required?|within|"
    r"limit(?:ed)?|maximum|minimum|step[- ]by[- ]step|each|every|"
    r"(?:format(?:ted)?|formatted as|in the form of|as a) (?:a |an )?(?:table|list|json|csv|markdown|code|bullet)|"
    r"in (?:json|csv|markdown|a table|a list|bullet points)|using|include|including|given|consider(?:ing)?)\b",
    re.IGNORECASE,
)
#: A number counts as a constraint when it sizes the answer ("in 3 sentences", "100 words"), not
#: when it is data of the problem ("a car travels 120 miles"), which says nothing about difficulty.
NUMBER_CONSTRAINT_RE = re.compile(
    r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|twenty|fifty|hundred) "
    r"(?:\w+ )?(?:words?|sentences?|paragraphs?|lines?|items?|examples?|points?|bullet points?|"
    r"characters?|steps?|ways?|reasons?|tips?|questions?|options?|pages?|verses?|stanzas?)\b",
    re.IGNORECASE,
)
#: A word this long (in letters) counts as a long word: a standard lexical-sophistication proxy.
LONG_WORD = 7

#: The four dimensions of the combined score and, per feature, its half-saturation point
#: (the value that contributes 0.5): a typical value for a short, ordinary instruction.
DIMENSIONS: dict[str, dict[str, float]] = {
    "length": {"tokens": 40.0},
    "syntax": {"dep_depth_max": 6.0, "clauses": 3.0},
    "lexical": {"long_words": 5.0},
    "task": {"verbs_distinct": 4.0, "constraints": 3.0},
}
#: Mean word length maps linearly from 3 letters (0) to 7 letters (1): plain prose is about 4.5.
WORD_LEN_RANGE = (3.0, 7.0)

FEATURES = (
    "tokens",
    "sentences",
    "sentence_len_mean",
    "dep_depth_max",
    "dep_depth_mean",
    "word_len_mean",
    "long_words",
    "verbs_distinct",
    "verb_diversity",
    "clauses",
    "constraints",
    "question",
    "imperative",
)


def combine(features: dict[str, np.ndarray]) -> np.ndarray:
    """``complexity`` in [0, 1): the mean over four dimensions of saturating feature transforms.

    The dimensions are the standard ones of linguistic complexity — length,
    syntactic complexity, lexical sophistication — plus task demands (distinct
    actions and explicit constraints, what Evol-Instruct adds).  Equal weights
    per dimension keep a dimension with more features from dominating.  A
    saturating transform x / (x + half) keeps one very long input from
    dominating and needs no corpus statistics, so a record's score does not
    depend on its neighbours (a z-score would).
    """
    lo, hi = WORD_LEN_RANGE
    word_len = np.clip((features["word_len_mean"] - lo) / (hi - lo), 0.0, 1.0)
    dims = []
    for name, feats in DIMENSIONS.items():
        parts = [features[k] / (features[k] + half) for k, half in feats.items()]
        if name == "lexical":
            parts.append(word_len)
        dims.append(np.mean(parts, axis=0))
    return np.mean(dims, axis=0)


#: Scripts written without spaces between words (Chinese, Japanese, Thai): an English
#: parser reads a whole sentence of them as one token, so its numbers would mean nothing.
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
UNSPACED_SHARE = 0.3


def unspaced_script(text: str) -> bool:
    """True when more than 30% of the text's visible characters are Chinese, Japanese or Thai."""
    visible = len(text) - text.count(" ") - text.count("\n")
    return visible > 0 and len(_UNSPACED.findall(text)) > UNSPACED_SHARE * visible


@dataclass
class ComplexityScorer:
    """Parses texts and returns one float array per feature (NaN where a text is empty, or in a
    script written without spaces: the features are English-only, see :func:`unspaced_script`)."""

    model: str = DEFAULT_SPACY_MODEL
    batch_size: int = 256
    max_chars: int = 20_000
    #: Texts left unscored because of their script, over every call.
    skipped_script: int = 0

    def setup(self) -> None:
        self._nlp = load_spacy(self.model)
        present = set(self._nlp.pipe_names)
        self._skip = [c for c in SKIPPED_COMPONENTS if c in present]
        self._lemmatizer = self._nlp.get_pipe("lemmatizer") if "lemmatizer" in present else None
        self._verb_lemma: dict[int, int] = {}
        s = self._nlp.vocab.strings
        self._ids = {
            "ROOT": s["ROOT"],
            "VERB": s["VERB"],
            "VB": s["VB"],
            "nsubj": s["nsubj"],
            "nsubjpass": s["nsubjpass"],
            "expl": s["expl"],
            "clause": np.array([s[d] for d in CLAUSE_DEPS], dtype=np.uint64),
            "conj": s["conj"],
            "question": np.array([s[w] for w in QUESTION_WORDS], dtype=np.uint64),
            "verb_tags": np.array([s[t] for t in VERB_TAGS], dtype=np.uint64),
            "aux_deps": np.array([s[d] for d in AUX_DEPS], dtype=np.uint64),
            "be": np.array([s[w] for w in BE_FORMS], dtype=np.uint64),
        }

    def score(self, texts: list[str]) -> dict[str, np.ndarray]:
        if not hasattr(self, "_nlp"):
            self.setup()
        clipped = [t[: self.max_chars] for t in texts]
        unspaced = np.array([unspaced_script(t) for t in clipped], dtype=bool)
        if unspaced.any():
            self.skipped_script += int(unspaced.sum())
            clipped = ["" if u else t for t, u in zip(clipped, unspaced)]
        with self._nlp.select_pipes(disable=self._skip):
            docs = list(self._nlp.pipe(clipped, batch_size=self.batch_size))
        attrs = [
            HEAD,
            DEP,
            POS,
            TAG,
            LEMMA,
            SENT_START,
            IS_PUNCT,
            IS_SPACE,
            LOWER,
            IS_ALPHA,
            LENGTH,
        ]
        arrays = [d.to_array(attrs) for d in docs if len(d)]
        lengths = np.array([len(d) for d in docs], dtype=np.int64)
        out = self._features(arrays, lengths)
        out["constraints"] = np.array(
            [len(CONSTRAINT_RE.findall(t)) + len(NUMBER_CONSTRAINT_RE.findall(t)) for t in clipped],
            dtype=float,
        )
        # Question (second part): the text ends with a question mark.
        out["question"] = np.where(
            [t.rstrip().endswith("?") for t in clipped], 1.0, out["question"]
        )
        out["complexity"] = combine(out)
        empty = out["tokens"] == 0  # nothing to measure: absent, not a fake low score
        for v in out.values():
            v[empty] = np.nan
        return out

    def _features(self, arrays: list[np.ndarray], lengths: np.ndarray) -> dict[str, np.ndarray]:
        n_docs = len(lengths)
        out = {k: np.zeros(n_docs) for k in FEATURES if k != "constraints"}
        if not arrays:
            return out
        a = np.concatenate(arrays)
        ids = self._ids
        nz = np.flatnonzero(lengths)
        doc = np.repeat(nz, lengths[nz])  # owning document per token
        idx = np.arange(len(a))
        head = idx + a[:, 0].view(np.int64)
        dep, pos, tag, lemma, lower = a[:, 1], a[:, 2], a[:, 3], a[:, 4], a[:, 8]
        sent_start = a[:, 5].view(np.int64) == 1
        starts = np.r_[0, np.cumsum(lengths[nz])[:-1]]
        sent_start[starts] = True
        word = (a[:, 6] == 0) & (a[:, 7] == 0)

        depth = _depths(head)
        sent = np.cumsum(sent_start) - 1  # global sentence id per token
        sent_doc = doc[sent_start]
        sent_depth = np.maximum.reduceat(depth, np.flatnonzero(sent_start))
        n_sent = np.bincount(sent_doc, minlength=n_docs).astype(float)
        n_tok = np.bincount(doc, weights=word, minlength=n_docs)

        out["tokens"] = n_tok
        out["sentences"] = n_sent
        out["sentence_len_mean"] = _ratio(n_tok, n_sent)
        out["dep_depth_max"] = np.zeros(n_docs)
        np.maximum.at(out["dep_depth_max"], sent_doc, sent_depth)
        out["dep_depth_mean"] = _ratio(
            np.bincount(sent_doc, weights=sent_depth, minlength=n_docs), n_sent
        )

        alpha = a[:, 9] == 1
        length = a[:, 10].astype(float)
        n_alpha = np.bincount(doc[alpha], minlength=n_docs).astype(float)
        out["word_len_mean"] = _ratio(
            np.bincount(doc[alpha], weights=length[alpha], minlength=n_docs), n_alpha
        )
        out["long_words"] = np.bincount(
            doc[alpha & (length >= LONG_WORD)], minlength=n_docs
        ).astype(float)

        if self._skip:  # coarse POS and lemmas were skipped: verbs from the fine tags
            verb = (
                np.isin(tag, ids["verb_tags"])
                & ~np.isin(dep, ids["aux_deps"])
                & ~np.isin(lower, ids["be"])
            )
            lemma = lemma.copy()
            lemma[verb] = self._lemmas(lower[verb], tag[verb])
        else:
            verb = pos == ids["VERB"]
        n_verbs = np.bincount(doc[verb], minlength=n_docs).astype(float)
        pairs = np.unique(np.stack([doc[verb].astype(np.uint64), lemma[verb]], axis=1), axis=0)
        distinct = np.bincount(pairs[:, 0].astype(np.int64), minlength=n_docs).astype(float)
        out["verbs_distinct"] = distinct
        out["verb_diversity"] = np.where(n_verbs > 0, _ratio(distinct, n_verbs), np.nan)

        is_root = dep == ids["ROOT"]
        clause = is_root | np.isin(dep, ids["clause"]) | ((dep == ids["conj"]) & verb)
        out["clauses"] = np.bincount(doc[clause], minlength=n_docs).astype(float)

        # Question (first part): the first word is a wh-word or an inverted auxiliary.
        first_tok = starts
        out["question"][nz] = np.isin(lower[first_tok], ids["question"])

        # Imperative: the first sentence's root is a base-form verb with no subject.
        first_sent_root = is_root & (sent == np.repeat(sent[starts], lengths[nz]))
        subj = np.isin(
            dep, np.array([ids["nsubj"], ids["nsubjpass"], ids["expl"]], dtype=np.uint64)
        )
        root_has_subj = np.zeros(len(a), dtype=bool)
        root_has_subj[head[subj]] = True
        imper = first_sent_root & (tag == ids["VB"]) & ~root_has_subj
        out["imperative"] = (np.bincount(doc[imper], minlength=n_docs) > 0).astype(float)
        return out

    def _lemmas(self, forms: np.ndarray, tags: np.ndarray) -> np.ndarray:
        """Verb lemmas by spaCy's own rule lemmatizer, once per distinct (form, tag): verbs
        repeat, so this costs a few hundred calls where lemmatizing every token cost half the parse."""
        strings = self._nlp.vocab.strings
        out = np.empty(len(forms), dtype=np.uint64)
        cache = self._verb_lemma
        for i, (form, tag) in enumerate(zip(forms.tolist(), tags.tolist())):
            key = form * 31 + tag
            if key not in cache:
                cache[key] = strings.add(self._lemmatize(strings[form], strings[tag]))
            out[i] = cache[key]
        return out

    def _lemmatize(self, form: str, tag: str) -> str:
        if self._lemmatizer is None:
            return form
        doc = Doc(self._nlp.vocab, words=[form])
        doc[0].tag_, doc[0].pos_ = tag, "VERB"
        return self._lemmatizer.rule_lemmatize(doc[0])[0]


def _depths(head: np.ndarray) -> np.ndarray:
    """Arcs from each token to its sentence root, by pointer jumping (log2(depth) vectorised rounds)."""
    depth = (head != np.arange(len(head))).astype(np.int64)
    anc = head.copy()
    while not (anc[anc] == anc).all():
        depth = (
            depth + depth[anc]
        )  # a root has depth 0 and is its own ancestor: adding it is harmless
        anc = anc[anc]
    return depth


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1), 0.0)
