"""Factual consistency: claims -> BM25 evidence from a reference corpus -> NLI model or LLM judge.

A response is split into claims (its sentences with at least ``MIN_CLAIM_WORDS``
words, code removed); each claim retrieves its top-k passages from the user's
reference corpus with BM25 (``bm25s``; the index is cached on disk, keyed by
the corpus file's content hash, so a rerun does not re-index a Wikipedia dump);
a judge then labels the claim *supported*, *contradicted* or *unverifiable*:

- an NLI cross-encoder by Hugging Face id (premise = passage, hypothesis =
  claim; the best passage decides) — none ships offline, so users online only;
- an LLM judge over an OpenAI-compatible API (:class:`instructkit.llm.judge.LLMJudge`,
  with its retries and SQLite cache), which works offline with the local server.

A claim whose best BM25 score is 0 shares no content word with the corpus: it
is unverifiable without asking the judge.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import orjson

from instructkit.errors import InstructkitError, MissingDependency
from instructkit.llm.client import Messages
from instructkit.llm.judge import LLMJudge
from instructkit.models.nli import load_nli

MIN_CLAIM_WORDS = 4
MAX_CLAIMS = 8
TEXT_FIELDS = ("text", "passage", "content", "contents", "body")
VERDICTS = ("supported", "contradicted", "unverifiable")
_CODE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`", re.DOTALL)
_SENT = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])|\n+")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def split_claims(text: str, max_claims: int = MAX_CLAIMS) -> list[str]:
    """Checkable sentences of a response, in order: no code, no list markers, no fragments."""
    out = []
    for s in _SENT.split(_CODE.sub(" ", text)):
        s = _BULLET.sub("", s).strip()
        if len(s.split()) >= MIN_CLAIM_WORDS and not s.endswith("?"):
            out.append(s)
            if len(out) == max_claims:
                break
    return out


def _stemmer() -> Any:
    """PyStemmer's English stemmer when installed (better recall: "orbits" meets "orbit"), else none."""
    try:
        import Stemmer
    except ImportError:
        return None
    return Stemmer.Stemmer("english")


def read_passages(path: Path) -> tuple[list[str], list[str]]:
    """(ids, texts) from JSONL or Parquet; id = the row's ``id`` field, else its 1-based line number."""
    if not path.is_file():
        raise InstructkitError(f"--reference {path}: no such file")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    else:
        rows = []
        for n, line in enumerate(path.read_bytes().splitlines(), 1):
            if line.strip():
                try:
                    rows.append(orjson.loads(line))
                except orjson.JSONDecodeError as e:
                    raise InstructkitError(f"--reference {path}:{n}: invalid JSON ({e})") from None
    ids, texts = [], []
    for n, row in enumerate(rows, 1):
        text = next(
            (row[f] for f in TEXT_FIELDS if isinstance(row, dict) and isinstance(row.get(f), str)),
            None,
        )
        if text is None:
            raise InstructkitError(
                f"--reference {path}: passage {n} has none of the text fields {', '.join(TEXT_FIELDS)}"
            )
        title = row.get("title")
        ids.append(str(row.get("id", n)))
        texts.append(f"{title}. {text}" if isinstance(title, str) and title else text)
    if not texts:
        raise InstructkitError(f"--reference {path}: no passages")
    return ids, texts


@dataclass
class ReferenceIndex:
    """A BM25 index over the reference passages, built once and cached under ``cache_dir``."""

    path: Path
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "instructkit" / "bm25")

    def load(self) -> None:
        try:
            import bm25s
        except ImportError:
            raise MissingDependency("bm25s", "score", "factual consistency retrieval") from None
        self._bm25s = bm25s
        self._stem = _stemmer()
        self.ids, self.texts = read_passages(self.path)
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()[:20]
        where = (
            self.cache_dir / f"{digest}-{'stem' if self._stem else 'nostem'}-v{bm25s.__version__}"
        )
        self.cache_hit = (where / "params.index.json").is_file()
        if self.cache_hit:
            self._index = bm25s.BM25.load(str(where), show_progress=False)
        else:
            tokens = bm25s.tokenize(
                self.texts, stopwords="en", stemmer=self._stem, show_progress=False
            )
            self._index = bm25s.BM25()
            self._index.index(tokens, show_progress=False)
            where.mkdir(parents=True, exist_ok=True)
            self._index.save(str(where), show_progress=False)

    def search(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(passage indices, BM25 scores), both (len(queries), k), best first."""
        k = min(k, len(self.texts))
        q = self._bm25s.tokenize(
            queries, stopwords="en", stemmer=self._stem, return_ids=False, show_progress=False
        )
        docs, scores = self._index.retrieve(q, k=k, show_progress=False, n_threads=1)
        return np.asarray(docs), np.asarray(scores)


class Judge(Protocol):
    name: str

    def judge(self, pairs: list[tuple[str, list[str]]]) -> Sequence[str | None]:
        """One verdict from :data:`VERDICTS` per (claim, evidence passages); None: no verdict."""
        ...


@dataclass
class NLIJudge:
    """An NLI cross-encoder (e.g. ``cross-encoder/nli-deberta-v3-xsmall``): the most confident passage decides."""

    model: str
    threshold: float = 0.5
    name: str = "nli"

    def setup(self) -> None:
        self._nli = load_nli(self.model)

    def judge(self, pairs: list[tuple[str, list[str]]]) -> list[str]:
        if not hasattr(self, "_nli"):
            self.setup()
        flat = [(ev, claim) for claim, evs in pairs for ev in evs]
        probs = self._nli.probabilities([p for p, _ in flat], [h for _, h in flat])
        out, at = [], 0
        for _, evs in pairs:
            p = probs[at : at + len(evs)]
            at += len(evs)
            if len(p) and p[:, self._nli.entailment].max() >= self.threshold:
                out.append("supported")
            elif len(p) and p[:, self._nli.contradiction].max() >= self.threshold:
                out.append("contradicted")
            else:
                out.append("unverifiable")
        return out


JUDGE_PROMPT = """Evidence: {evidence}

Claim: {claim}

According to the evidence, is the claim true or false?"""
#: Constrained decoding (llama.cpp turns the schema into a grammar).  With the 135M offline model,
#: free-text answers were "no" for every claim, and offering "unknown" made every answer "true"
#: (docs/scoring.md); so the judge decides true/false and *unverifiable* comes from retrieval
#: (no passage shares a word with the claim).
RESPONSE_FORMAT = {
    "type": "json_object",
    "schema": {
        "type": "object",
        "properties": {"verdict": {"type": "string", "enum": ["true", "false"]}},
        "required": ["verdict"],
    },
}
_ANSWER = re.compile(r"\b(true|false|unknown|supported|contradicted)\b", re.IGNORECASE)
_VERDICT = {
    "true": "supported",
    "supported": "supported",
    "false": "contradicted",
    "contradicted": "contradicted",
    "unknown": "unverifiable",
}


@dataclass(frozen=True)
class ClaimTask:
    """(claim, evidence passages) -> supported / contradicted, asked at temperature 0 (the same
    claim gets the same answer).

    ``structured`` sends a JSON-schema ``response_format`` (llama.cpp, vLLM, SGLang honour it); turn it
    off for a server that rejects the ``schema`` key — the answer is then parsed from free text.
    """

    structured: bool = True

    @property
    def sampling(self) -> Mapping[str, Any]:
        extra = {"response_format": RESPONSE_FORMAT} if self.structured else {}
        return {"temperature": 0.0, "max_tokens": 16, "seed": 0, **extra}

    def prompt(self, pair: tuple[str, list[str]]) -> Messages:
        claim, evs = pair
        evidence = (
            evs[0]
            if len(evs) == 1
            else "\n" + "\n".join(f"[{i + 1}] {e}" for i, e in enumerate(evs))
        )
        return [{"role": "user", "content": JUDGE_PROMPT.format(evidence=evidence, claim=claim)}]

    def parse(self, answer: str) -> str | None:
        m = _ANSWER.search(answer)
        return _VERDICT[m.group(1).lower()] if m else None


def llm_judge(
    base_url: str, model: str, cache_path: Path | None = None, structured: bool = True
) -> LLMJudge[tuple[str, list[str]], str]:
    """The LLM claim judge over an OpenAI-compatible API; a failed call stops the run."""
    return LLMJudge(
        base_url, model, ClaimTask(structured), cache_path=cache_path, concurrency=4, strict=True
    )


@dataclass
class FactualScorer:
    """Shares of supported / contradicted / unverifiable claims per response, with evidence for ``meta``."""

    index: ReferenceIndex
    judge: Judge
    k: int = 3

    def setup(self) -> None:
        self.index.load()
        if hasattr(self.judge, "setup"):
            self.judge.setup()

    def score(
        self, responses: list[str]
    ) -> tuple[dict[str, np.ndarray], list[list[dict[str, Any]] | None]]:
        n = len(responses)
        claims = [split_claims(r) for r in responses]
        flat = [(i, c) for i, cs in enumerate(claims) for c in cs]
        out = {f"factual.{v}": np.full(n, np.nan) for v in VERDICTS} | {
            "factual.claims": np.full(n, np.nan)
        }
        evidence: list[list[dict[str, Any]] | None] = [None] * n
        if not flat:
            return out, evidence
        docs, bm = self.index.search([c for _, c in flat], self.k)
        verdicts = ["unverifiable"] * len(flat)
        ask = [j for j in range(len(flat)) if bm[j, 0] > 0]
        pairs = [
            (flat[j][1], [self.index.texts[d] for d, s in zip(docs[j], bm[j]) if s > 0])
            for j in ask
        ]
        for j, v in zip(ask, self.judge.judge(pairs)):
            verdicts[j] = v or "unparsed"
        for j, (i, claim) in enumerate(flat):
            ids = [self.index.ids[d] for d, s in zip(docs[j], bm[j]) if s > 0]
            evidence[i] = (evidence[i] or []) + [
                {"claim": claim, "verdict": verdicts[j], "evidence": ids}
            ]
        for i, items in enumerate(evidence):
            judged = [e["verdict"] for e in items or () if e["verdict"] in VERDICTS]
            if (
                judged
            ):  # shares over claims with a verdict; an unparsable judge answer is kept in meta only
                for v in VERDICTS:
                    out[f"factual.{v}"][i] = judged.count(v) / len(judged)
                out["factual.claims"][i] = len(judged)
        return out, evidence


def describe(scorer: FactualScorer) -> dict[str, Any]:
    """Summary-file figures: corpus, cache, judge and its usage."""
    info: dict[str, Any] = {
        "reference": str(scorer.index.path),
        "passages": len(scorer.index.texts),
        "index_cache_hit": scorer.index.cache_hit,
        "judge": scorer.judge.name,
    }
    usage = getattr(scorer.judge, "usage", None)
    if callable(usage):
        info["judge_usage"] = json.loads(json.dumps(usage(), default=str))
    return info
