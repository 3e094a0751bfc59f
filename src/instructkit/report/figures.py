"""The report's figures, computed from a loaded run: plain numbers and short texts, no markup.

Per-record measures (lengths, turns, scores, language) are computed column-wise
with Arrow over the final records; everything else comes from the step
summaries and from samples of the sidecar files.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from instructkit.accounting import RunLog
from instructkit.io.read import read_tables
from instructkit.report.load import RunData, StepRun, read_jsonl

#: Examples kept per reject reason, duplicate clusters and contamination hits per benchmark.
EXAMPLES = 3
CLUSTERS = 5
CLUSTER_MEMBERS = 4
HITS_SHOWN = 5
#: Characters of a record's text shown in an example.
EXCERPT = 300
#: Records whose language is identified when no step wrote one (py3langid costs ~0.2 ms each).
LANGUAGE_SAMPLE = 5000
#: Pool records drawn in the selection's coverage plot (all selected records are drawn too).
POOL_SAMPLE = 20_000
#: Metrics shown as columns of the sources table; the rest are in the full table below it.
HEADLINE_SCORES = 6
_KEPT = re.compile(r"duplicate of id (\S+) \(input record #(\d+)\)")


@dataclass
class Column:
    """One per-record measure, split by source."""

    name: str
    values: np.ndarray
    discrete: bool = False


@dataclass
class Figures:
    name: str
    records: int
    funnel: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    score_names: list[str]
    headline: list[str]
    columns: list[Column]
    source_of: np.ndarray
    languages: dict[str, Counter[str]]
    language_note: str
    decontam: list[dict[str, Any]] = field(default_factory=list)
    clusters: list[dict[str, Any]] = field(default_factory=list)
    evolve: list[dict[str, Any]] = field(default_factory=list)
    selection: dict[str, Any] | None = None


def compute(run: RunData) -> Figures:
    table = _read_records(run.final)
    sources = np.asarray(table.column("source").to_pylist(), dtype=object)
    columns, scores = _measures(table)
    langs, note = _languages(table, sources)
    licenses = {
        str(i.get("source") or _stem(i.get("path", ""))): i.get("license") for i in run.inputs
    }
    if len(run.inputs) == 1:  # one input (a folder, say): its license covers every source in it
        licenses[""] = run.inputs[0].get("license")
    score_names = sorted(scores)
    headline = sorted(score_names, key=lambda s: ("." in s, s))[:HEADLINE_SCORES]
    generated = ~np.asarray(table.column("lineage").is_null(), dtype=bool)
    return Figures(
        name=run.name,
        records=table.num_rows,
        funnel=[_funnel_row(s) for s in run.steps],
        sources=_source_rows(sources, columns, scores, generated, licenses),
        score_names=score_names,
        headline=headline,
        columns=columns + [Column(n, v) for n, v in sorted(scores.items())],
        source_of=sources,
        languages=langs,
        language_note=note,
        decontam=[d for s in run.steps if s.name == "decontaminate" for d in _decontam(s)],
        clusters=[c for s in run.steps if s.name == "dedup" for c in _clusters(s)][:CLUSTERS],
        evolve=[r for s in run.steps if s.name == "evolve" for r in s.entry.get("rounds") or []],
        selection=next((_selection(s) for s in run.steps if s.selection is not None), None),
    )


def _stem(path: str) -> str:
    name = path.removeprefix("hf:").rstrip("/").split("/")[-1].split(":")[0]
    return name.split(".")[0]


# --- the final records -------------------------------------------------------------------------


def _read_records(path: Path | None, columns: list[str] | None = None) -> pa.Table:
    wanted = columns or ["id", "source", "messages", "scores", "meta", "lineage"]
    if path is None:
        from instructkit.schema import empty_table

        return empty_table().select(wanted)
    if path.suffix == ".parquet":
        return pq.read_table(path, columns=wanted)
    log = RunLog(None, None)
    tables = list(read_tables([str(path)], log))
    from instructkit.schema import empty_table

    return pa.concat_tables(tables).select(wanted) if tables else empty_table().select(wanted)


def _measures(table: pa.Table) -> tuple[list[Column], dict[str, np.ndarray]]:
    """Turns, instruction and response lengths (whitespace tokens) per record, and every score."""
    n = table.num_rows
    msgs = table.column("messages").combine_chunks()
    turns = pc.list_value_length(msgs).to_numpy(zero_copy_only=False).astype(float)
    flat = pc.list_flatten(msgs)
    parents = pc.list_parent_indices(msgs).to_numpy()
    roles = np.asarray(flat.field("role").to_pylist(), dtype=object)
    tokens = pc.list_value_length(pc.utf8_split_whitespace(flat.field("content"))).to_numpy(
        zero_copy_only=False
    )
    pos = np.arange(len(roles))
    first_user = np.full(n, np.iinfo(np.int64).max)
    users = roles == "user"
    np.minimum.at(first_user, parents[users], pos[users])
    instr = np.full(n, np.nan)
    has_user = first_user < len(roles)
    instr[has_user] = tokens[first_user[has_user]]
    # The response: the first assistant turn after the first user turn.
    after = (roles == "assistant") & (pos > first_user[parents])
    first_resp = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_resp, parents[after], pos[after])
    resp = np.full(n, np.nan)
    has_resp = first_resp < len(roles)
    resp[has_resp] = tokens[first_resp[has_resp]]
    columns = [
        Column("turns", turns, discrete=True),
        Column("instruction tokens", instr),
        Column("response tokens", resp),
    ]
    return columns, _scores(table)


def _scores(table: pa.Table) -> dict[str, np.ndarray]:
    col = table.column("scores").combine_chunks()
    n = table.num_rows
    if not len(col.keys):
        return {}
    rows = np.repeat(np.arange(n), np.diff(col.offsets.to_numpy()))
    keys = np.asarray(col.keys.to_pylist(), dtype=object)
    values = col.items.to_numpy(zero_copy_only=False).astype(float)
    out: dict[str, np.ndarray] = {}
    for name in np.unique(keys):
        mask = keys == name
        arr = np.full(n, np.nan)
        arr[rows[mask]] = values[mask]
        out[str(name)] = arr
    return out


def _languages(table: pa.Table, sources: np.ndarray) -> tuple[dict[str, Counter[str]], str]:
    """Language per source: as a step wrote it (``meta.language``), else identified on a sample."""
    metas = table.column("meta")
    has = pc.match_substring(metas.fill_null(""), '"language"').to_numpy(zero_copy_only=False)
    out: dict[str, Counter[str]] = defaultdict(Counter)
    if has.any():
        for i in np.flatnonzero(has):
            lang = orjson.loads(metas[int(i)].as_py()).get("language")
            out[str(sources[i])][str(lang) if isinstance(lang, str) else "unknown"] += 1
        note = "as the score step identified it (meta.language, py3langid on the response)"
        return dict(out), note
    try:
        from instructkit.clean.language import identify
    except ImportError:  # the clean extra is not installed
        return {}, ""
    n = table.num_rows
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(n, size=min(n, LANGUAGE_SAMPLE), replace=False)) if n else []
    from instructkit.schema import first_role_text

    sample = table.take(pa.array(rows, pa.int64()))
    texts = [
        f"{a}\n{b}"
        for a, b in zip(
            first_role_text(sample, "user"), first_role_text(sample, "assistant", "user")
        )
    ]
    try:
        found = identify(texts)
    except Exception:  # noqa: BLE001 (a missing model must not stop the report)
        return {}, ""
    for i, f in zip(rows, found):
        out[str(sources[i])][f[0] if f else "unknown"] += 1
    which = "all" if len(rows) == n else f"a seeded sample of {len(rows):,}"
    note = f"identified by the report on {which} records (py3langid, instruction + response)"
    return dict(out), note


def _source_rows(
    sources: np.ndarray,
    columns: list[Column],
    scores: dict[str, np.ndarray],
    generated: np.ndarray,
    licenses: dict[str, Any],
) -> list[dict[str, Any]]:
    """The seed table: one row per source with its size, kind, lengths and score means."""
    rows = []
    total = len(sources)
    by = {c.name: c.values for c in columns}
    for src in sorted(set(sources.tolist())):
        mask = sources == src
        n = int(mask.sum())
        multi = float(np.mean(by["turns"][mask] > 2))
        gen = int(generated[mask].sum())
        kind = "multi-turn" if multi > 0.5 else "single-turn"
        if gen:
            kind += f", {gen / n:.0%} machine-generated"
        rows.append(
            {
                "source": str(src),
                "records": n,
                "share": n / total,
                "kind": kind,
                "generated": gen,
                "turns": _mean(by["turns"][mask]),
                "instruction_tokens": _mean(by["instruction tokens"][mask]),
                "response_tokens": _mean(by["response tokens"][mask]),
                "scores": {k: _mean(v[mask]) for k, v in sorted(scores.items())},
                "license": licenses.get(str(src), licenses.get("")),
            }
        )
    return rows


def _mean(values: np.ndarray) -> float | None:
    ok = values[~np.isnan(values)]
    return float(ok.mean()) if len(ok) else None


# --- the steps' sidecar files ------------------------------------------------------------------


def _funnel_row(step: StepRun) -> dict[str, Any]:
    e = step.entry
    rejected = {str(k): int(v) for k, v in (e.get("rejected") or {}).items()}
    return {
        "step": step.name,
        "label": step.label,
        "records_in": int(e.get("records_in") or 0),
        "records_out": int(e.get("records_out") or 0),
        "generated": int(e.get("generated") or 0),
        "rejected": rejected,
        "seconds": e.get("seconds") if isinstance(e.get("seconds"), int | float) else None,
        "examples": _reject_examples(step, rejected),
        "config": e.get("config") or {},
    }


def _reject_examples(step: StepRun, rejected: dict[str, int]) -> dict[str, list[dict[str, str]]]:
    """The first few rejects per reason; reading stops once every reason has its examples."""
    out: dict[str, list[dict[str, str]]] = defaultdict(list)
    if step.rejects is None:
        return {}
    wanted = {r: min(EXAMPLES, n) for r, n in rejected.items()}
    for row in read_jsonl(step.rejects):
        reason = str(row.get("reason", "rejected"))
        if len(out[reason]) < wanted.get(reason, EXAMPLES):
            out[reason].append(_example(row))
        if all(len(out[r]) >= k for r, k in wanted.items()):
            break
    return dict(out)


def _example(row: dict[str, Any]) -> dict[str, str]:
    rec = row.get("record")
    ex = {"detail": str(row.get("detail", ""))}
    if isinstance(rec, dict):
        ex |= _texts(rec)
    elif row.get("line") is not None:
        ex["line"] = str(row["line"])[:EXCERPT]
    return ex


def _texts(rec: dict[str, Any]) -> dict[str, str]:
    msgs = rec.get("messages") or []
    user = next((m.get("content", "") for m in msgs if m.get("role") == "user"), "")
    resp = next((m.get("content", "") for m in msgs if m.get("role") == "assistant"), "")
    return {
        "id": str(rec.get("id", "")),
        "source": str(rec.get("source", "")),
        "instruction": _cut(user),
        "response": _cut(resp),
    }


def _cut(text: Any) -> str:
    text = str(text or "")
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "…"


def _lookup(path: Path | None, ids: set[str]) -> dict[str, dict[str, str]]:
    """Instruction and response excerpts of the records with these ids in a step's output."""
    if path is None or not ids:
        return {}
    table = _read_records(path, ["id", "source", "messages"])
    table = table.filter(pc.is_in(table.column("id"), pa.array(sorted(ids))))
    return {r["id"]: _texts(r) for r in table.to_pylist()}


def _decontam(step: StepRun) -> list[dict[str, Any]]:
    """Hits per benchmark: counts by method and verdict, and the strongest matches with evidence."""
    if step.hits is None:
        return []
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    top: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for h in read_jsonl(step.hits):
        bench = str(h.get("benchmark", "?"))
        counts[bench][f"{h.get('method', '?')}: {h.get('verdict', 'hit')}"] += 1
        top[bench].append(h)
        if len(top[bench]) > 4 * HITS_SHOWN:  # keep memory flat: trim to the strongest
            top[bench] = sorted(top[bench], key=_strength)[:HITS_SHOWN]
    shown = {b: sorted(hs, key=_strength)[:HITS_SHOWN] for b, hs in top.items()}
    ids = {str(h.get("id")) for hs in shown.values() for h in hs}
    texts = _reject_texts(step, ids)
    texts |= _lookup(step.output, ids - set(texts))
    return [
        {
            "step": step.label,
            "benchmark": b,
            "counts": dict(sorted(counts[b].items())),
            "hits": [h | {"record": texts.get(str(h.get("id")), {})} for h in shown[b]],
        }
        for b in sorted(counts)
    ]


def _strength(hit: dict[str, Any]) -> tuple[int, float]:
    return (hit.get("verdict") != "contaminated", -float(hit.get("score") or 0))


def _reject_texts(step: StepRun, ids: set[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    if step.rejects is None:
        return out
    for row in read_jsonl(step.rejects):
        rec = row.get("record")
        if isinstance(rec, dict) and str(rec.get("id")) in ids:
            out.setdefault(str(rec["id"]), _texts(rec))
            if len(out) == len(ids):
                break
    return out


def _clusters(step: StepRun) -> list[dict[str, Any]]:
    """A few duplicate clusters: the record kept and some it replaced, with the reason given."""
    groups: dict[str, list[dict[str, str]]] = {}
    if step.rejects is None:
        return []
    for row in read_jsonl(step.rejects):
        m = _KEPT.search(str(row.get("detail", "")))
        if not m or not isinstance(row.get("record"), dict):
            continue
        kept = m.group(1)
        if kept not in groups and len(groups) >= CLUSTERS:
            continue
        members = groups.setdefault(kept, [])
        if len(members) < CLUSTER_MEMBERS:
            members.append(_texts(row["record"]) | {"detail": str(row.get("detail", ""))})
        if len(groups) >= CLUSTERS and all(len(v) >= CLUSTER_MEMBERS for v in groups.values()):
            break
    kept_texts = _lookup(step.output, set(groups))
    return [
        {"kept": kept_texts.get(k, {"id": k}), "dropped": v, "step": step.label}
        for k, v in groups.items()
    ]


def _selection(step: StepRun) -> dict[str, Any]:
    """The selected records over the pool they came from, projected to 2-D, and select's figures."""
    assert step.selection is not None
    picks = list(read_jsonl(step.selection))
    selected = {str(p.get("id")) for p in picks}
    out: dict[str, Any] = {
        "step": step.label,
        "selected": len(picks),
        "config": step.entry.get("config") or {},
        "top": picks[:10],
        "versus_random": {
            k: v
            for k, v in step.entry.items()
            if isinstance(v, dict) and re.search("random|proxy|baseline", k)
        },
        "pool_xy": None,
        "selected_xy": None,
    }
    if step.input is None:
        return out
    pool = _read_records(step.input, ["id", "messages"])
    out["pool"] = pool.num_rows
    if pool.num_rows < 3:
        return out
    ids = np.asarray(pool.column("id").to_pylist(), dtype=object)
    is_sel = np.isin(ids, list(selected))
    rng = np.random.default_rng(0)
    rest = np.flatnonzero(~is_sel)
    if len(rest) > POOL_SAMPLE:
        rest = np.sort(rng.choice(rest, POOL_SAMPLE, replace=False))
    rows = np.concatenate([rest, np.flatnonzero(is_sel)])
    xy = project(pool.take(pa.array(rows, pa.int64())))
    out["pool_xy"], out["selected_xy"] = xy[: len(rest)], xy[len(rest) :]
    out["pool_drawn"] = len(rest)
    return out


def project(table: pa.Table) -> np.ndarray:
    """2-D coordinates of records: hashed TF-IDF word vectors reduced by truncated SVD.

    Cheap enough for 20k records in a second or two and needs no model; it
    shows how the selection spreads over the pool's vocabulary, not semantic
    distance.
    """
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

    from instructkit.schema import first_role_text

    texts = [
        f"{a} {b}"[:2000]
        for a, b in zip(first_role_text(table, "user"), first_role_text(table, "assistant", "user"))
    ]
    counts = HashingVectorizer(n_features=2**18, alternate_sign=False, norm=None).transform(texts)
    tfidf = TfidfTransformer().fit_transform(counts)
    return TruncatedSVD(n_components=2, random_state=0).fit_transform(tfidf)
