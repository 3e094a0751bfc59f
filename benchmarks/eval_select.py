"""Does ``select`` beat random?  The selection against 20 seeded random subsets of the same size.

The pool is real data from ../shared/data (several sources, capped per
source), scored with ``score``'s default metrics (complexity, safety, format)
and cached as Parquet in the user cache so reruns skip scoring; embeddings
come from the shared on-disk cache.  For the selection and each random subset
of the same size drawn from the same eligible pool it measures quality (the
``--by`` score's mean and quantiles) and diversity/coverage in one space,
``--measure-model``: an encoder, ``tfidf`` (TF-IDF + SVD of the words: shares
nothing with the encoders, so a selection cannot look diverse merely in the
space it was chosen in) or ``same`` (the selector's own):

- facility coverage: mean over the pool of the best cosine to the subset (higher is better)
- k-center radius: worst pool record's distance 1 - best cosine to the subset (lower)
- mean nearest-neighbour cosine within the subset (lower)
- Vendi score: exp(entropy of the eigenvalues of the subset's cosine kernel / size) (higher)
- k-means coverage: share of the pool's k-means clusters (k = 100) with a member in the subset (higher)
- near-duplicate pairs: pairs in the subset with cosine >= 0.9 (lower)

Only records with a score and a vector in both spaces enter the comparison
(the offline encoders give mostly non-ASCII texts none); the random subsets
have as many records as the selection has such records.  For each measure:
the percentile of the selection among the random subsets (the share of them
it is strictly better than: 100 means it beats all 20).  ``--threshold`` and
``--by`` take several values (comma- and ';'-separated) and ``--fields`` (what
select embeds) both values to sweep them; tune on ``--pool tune`` (disjoint
records), report on ``--pool report``.  ``--turn-sum`` adds Deita's per-turn sum
of the complexity as a metric for ``--by`` (``score`` rates only the first
instruction).

    PYTHONPATH=src python benchmarks/eval_select.py --method deita -n 1000 \\
        --embedding-model static --measure-model tfidf --threshold 0.75
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from _data import ROOT, read
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from instructkit.models import embeddings
from instructkit.models.vector_cache import cache_root
from instructkit.schema import conform, turn_texts, with_scores
from instructkit.select.features import embedding_texts, metric_columns
from instructkit.steps.score import ScoreConfig, ScoreStep
from instructkit.steps.select import Select, SelectConfig, _vectors

#: The reported pool: folder -> the first rows taken; several sources of different kinds.
SOURCES = {
    "alpaca_sample_2k": 2000,
    "alpaca_gpt4_style_demo_llamafactory": 999,
    "lima_alpaca_format": 1029,
    "gpteacher_roleplay": 3000,
    "sharegpt_v3_sample3k": 3000,
    "gsm8k_train_alpaca_format": 2000,
    "gpteacher_toolformer": 2000,
}
#: The tuning pool (thresholds are chosen here): other records, disjoint from the reported pool.
TUNING = {
    "gsm8k_train_alpaca_format": (2000, 4000),
    "gpteacher_toolformer": (2000, 4000),
    "gpteacher_roleplay": (3000, 3146),
    "sharegpt_fastchat_dummy": (0, 500),
    "dpo_sharegpt_demo": (0, 300),
    "glaive_toolcall_sharegpt_demo": (0, 300),
    "ifeval_gpt4_responses": (0, 541),
    "self_instruct_user_oriented_eval": (0, 252),
    "wizardlm_evol_testset": (0, 218),
}
RANDOM_SUBSETS = 20
#: Dimensions of the lexical (TF-IDF + SVD) judge space.
LSA_DIMS = 256
#: (name, True when higher is better)
MEASURES = [
    ("score mean", True),
    ("score p10", True),
    ("score p50", True),
    ("score p90", True),
    ("facility coverage", True),
    ("k-center radius", False),
    ("mean NN cosine", False),
    ("Vendi score", True),
    ("k-means clusters covered", True),
    ("near-duplicate pairs", False),
]
QUALITY = 4


def scored_pool(which: str = "report") -> pa.Table:
    """The pool, scored once with ``score``'s default metrics (complexity, safety, format) and
    kept in the user cache (a pool cached with complexity and safety only gets format added)."""
    spec = {name: (0, cap) for name, cap in SOURCES.items()} if which == "report" else TUNING
    named = SOURCES if which == "report" else TUNING
    key = hashlib.sha256(json.dumps(named, sort_keys=True).encode()).hexdigest()[:12]
    base = cache_root() / "benchmarks" / f"select-pool-{key}.parquet"
    path = base.with_name(f"{base.stem}-format.parquet")
    if path.is_file():
        return conform(pq.read_table(path))
    if base.is_file():
        scored = conform(pq.read_table(base))
    else:
        parts = []
        for name, (start, stop) in spec.items():
            table = read(name).slice(start, stop - start)
            parts.append(table.set_column(1, "source", pa.array([name] * table.num_rows)))
        scored = _score(pa.concat_tables(parts), "complexity,safety")
        base.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(scored, base)
    scored = _score(scored, "format")
    pq.write_table(scored, path)
    return conform(scored)


def _score(pool: pa.Table, metrics: str) -> pa.Table:
    step = ScoreStep(ScoreConfig.from_config({"metrics": metrics}))
    step.setup()
    t0 = time.perf_counter()
    scored = pa.concat_tables(
        step.process(pool.slice(s, 1000)).kept for s in range(0, pool.num_rows, 1000)
    )
    print(f"scored {scored.num_rows} records ({metrics}) in {time.perf_counter() - t0:.0f} s")
    return scored


#: The metric ``--turn-sum`` adds: Deita's sum over turns, with the complexity of every user turn.
TURN_SUM = "complexity.turn_sum"


def turn_summed(pool: pa.Table) -> pa.Table:
    """Add :data:`TURN_SUM`: the record's complexity (its first instruction, as ``score`` rates
    it) plus the complexity of each later user turn, as Deita's scorer sums its per-turn scores
    over a conversation.  ``score`` rates only the first instruction, so the later turns are
    rated here with the same scorer; a turn it cannot rate (unspaced script) adds nothing."""
    from instructkit.score.complexity import ComplexityScorer

    texts, rows, roles = turn_texts(pool)
    user = np.flatnonzero(np.array(roles) == "user")
    first = np.zeros(len(user), bool)
    first[np.unique(rows[user], return_index=True)[1]] = True
    later = user[~first]
    scorer = ComplexityScorer()
    t0 = time.perf_counter()
    rated = scorer.score([texts[i] for i in later])["complexity"]
    print(f"rated {len(later)} later user turns in {time.perf_counter() - t0:.0f} s")
    extra = np.bincount(rows[later], weights=np.nan_to_num(rated), minlength=pool.num_rows)
    base = metric_columns(pool, ("complexity",))["complexity"]
    return with_scores(pool, {TURN_SUM: base + extra})


def measures(
    subset: np.ndarray, vectors: np.ndarray, score: np.ndarray, labels: np.ndarray, k: int
) -> list[float]:
    sub = vectors[subset]
    best = np.full(len(vectors), -np.inf, np.float32)
    for s in range(0, len(vectors), 8192):
        best[s : s + 8192] = (vectors[s : s + 8192] @ sub.T).max(axis=1)
    inner = sub @ sub.T
    np.fill_diagonal(inner, -np.inf)
    gram = (sub.T @ sub) / len(sub)  # same non-zero eigenvalues as the kernel / size
    eig = np.clip(np.linalg.eigvalsh(gram.astype(np.float64)), 0, None)
    eig = eig[eig > 1e-12] / eig.sum()
    q = np.quantile(score[subset], [0.1, 0.5, 0.9])
    return [
        float(score[subset].mean()),
        *map(float, q),
        float(best.mean()),
        float(1 - best.min()),
        float(inner.max(axis=1).mean()),
        float(np.exp(-(eig * np.log(eig)).sum())),
        len(np.unique(labels[subset])) / k,
        int((np.triu(inner, 1) >= 0.9).sum()),
    ]


def pool_vectors(pool: pa.Table, model: str) -> np.ndarray:
    """Every pool record's unit embedding by ``model`` (all turns, as ``select`` embeds them;
    zero where the encoder cannot compare the text), from the shared cache; ``tfidf``: a
    lexical space independent of both encoders (below)."""
    texts = embedding_texts(pool, "all")
    if model == "tfidf":
        return lexical_space(texts.to_pylist())
    foreign = embeddings.unsupported(texts, model)
    out = None
    usable = np.flatnonzero(~foreign)
    for s in range(0, len(usable), 2000):
        rows = usable[s : s + 2000]
        vecs = embeddings.encode(texts.take(pa.array(rows)), model)
        out = np.zeros((pool.num_rows, vecs.shape[1]), np.float32) if out is None else out
        out[rows] = vecs
    assert out is not None
    return out


def lexical_space(texts: list[str]) -> np.ndarray:
    """TF-IDF of words (sublinear, in at least 2 records) reduced by SVD to :data:`LSA_DIMS`
    dimensions (LSA), unit rows: a judge that shares nothing with the encoders the methods
    select by, so a selection cannot look diverse merely in its own space."""
    tfidf = TfidfVectorizer(sublinear_tf=True, min_df=2, max_features=100_000, dtype=np.float32)
    matrix = tfidf.fit_transform(texts)
    reduced = TruncatedSVD(LSA_DIMS, random_state=0).fit_transform(matrix).astype(np.float32)
    norms = np.linalg.norm(reduced, axis=1, keepdims=True)
    return reduced / np.where(norms > 0, norms, 1.0)


_labels: dict[tuple[bytes, int], np.ndarray] = {}


def _clusters(points: np.ndarray, k: int) -> np.ndarray:
    """k-means labels of the eligible pool, fitted once per set of points (a sweep reuses them)."""
    key = (hashlib.sha256(points.tobytes()).digest(), k)
    if key not in _labels:
        _labels[key] = KMeans(k, n_init=1, random_state=0).fit_predict(points)
    return _labels[key]


def compare(
    keep: np.ndarray, score: np.ndarray, space: np.ndarray, eligible: np.ndarray, k: int
) -> tuple[list[dict], int]:
    """The selection against :data:`RANDOM_SUBSETS` random subsets of as many eligible records."""
    labels = _clusters(space[eligible], k)
    vectors_e, score_e = space[eligible], score[eligible]
    position = np.full(len(keep), -1)
    position[eligible] = np.arange(len(eligible))
    inside = position[np.flatnonzero(keep)]
    inside = inside[inside >= 0]
    sel = measures(inside, vectors_e, score_e, labels, k)
    rand = np.array(
        [
            measures(
                np.random.default_rng(seed).choice(len(eligible), len(inside), replace=False),
                vectors_e,
                score_e,
                labels,
                k,
            )
            for seed in range(RANDOM_SUBSETS)
        ]
    )
    rows = []
    for m, ((name, higher), value) in enumerate(zip(MEASURES, sel)):
        col = rand[:, m]
        better = (value > col) if higher else (value < col)
        rows.append(
            {
                "measure": name,
                "better": "higher" if higher else "lower",
                "selection": round(value, 4),
                "random_mean": round(float(col.mean()), 4),
                "random_min": round(float(col.min()), 4),
                "random_max": round(float(col.max()), 4),
                "percentile": round(100 * float(better.mean()), 1),
            }
        )
    return rows, len(inside)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--method", default="deita")
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--embedding-model", default="minilm", help="the encoder select uses")
    ap.add_argument(
        "--measure-model",
        default="tfidf",
        help="the space the diversity measures are computed in: an encoder, 'tfidf' (lexical, "
        "independent of the encoders) or 'same' (the selector's own)",
    )
    ap.add_argument(
        "--threshold", default="0.9", help="deita's threshold; several, comma-separated, to sweep"
    )
    ap.add_argument("--by", default="complexity * (1 - toxicity)", help="several: ';'-separated")
    ap.add_argument(
        "--fields",
        default="all",
        help="what select embeds: 'all' turns or the 'instruction'; several, comma-separated "
        "(the judge space always embeds all turns)",
    )
    ap.add_argument(
        "--turn-sum",
        action="store_true",
        help=f"add the metric {TURN_SUM} (Deita's sum over turns) for --by to use",
    )
    ap.add_argument("--kmeans", type=int, default=100)
    ap.add_argument("--pool", choices=("report", "tune"), default="report")
    ap.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "eval_select.json"
    )
    args = ap.parse_args()

    pool = scored_pool(args.pool)
    if args.turn_sum:
        pool = turn_summed(pool)
    sources = np.array(pool.column("source").to_pylist(), dtype=object)
    by_source = {s: int((sources == s).sum()) for s in sorted(set(sources))}
    measure_model = args.embedding_model if args.measure_model == "same" else args.measure_model
    space = pool_vectors(pool, measure_model)
    runs = []
    sweep = [
        (fields, by, float(threshold))
        for fields in args.fields.split(",")
        for by in [b.strip() for b in args.by.split(";")]
        for threshold in args.threshold.split(",")
    ]
    for fields, by, threshold in sweep:
        config = SelectConfig.from_config(
            {
                "n": args.n,
                "method": args.method,
                "embedding-model": args.embedding_model,
                "threshold": threshold,
                "by": by,
                "fields": fields,
                "missing": "reject",
            }
        )
        step = Select(config)
        step.setup()
        t0 = time.perf_counter()
        features = pa.concat_tables(
            step.observe(pool.slice(s, 5000)) for s in range(0, pool.num_rows, 5000)
        )
        t1 = time.perf_counter()
        decision = step.decide(features)
        t2 = time.perf_counter()
        vectors = _vectors(features)
        score = features.column("score").to_numpy(zero_copy_only=False)
        # Records with a score and a vector in both spaces (the offline encoders leave
        # mostly non-ASCII texts out): the selection is compared on these only.
        eligible = np.flatnonzero(
            np.isfinite(score) & (np.abs(vectors).sum(axis=1) > 0) & (np.abs(space).sum(axis=1) > 0)
        )
        rows, compared = compare(decision.keep, score, space, eligible, args.kmeans)
        chosen = decision.keep
        run = {
            "fields": fields,
            "by": by,
            "threshold": threshold if args.method == "deita" else None,
            "selected": int(chosen.sum()),
            "selected_compared": compared,
            "selected_by_source": {
                s: int((sources[chosen] == s).sum()) for s in sorted(set(sources))
            },
            "eligible": len(eligible),
            "observe_seconds": round(t1 - t0, 2),
            "decide_seconds": round(t2 - t1, 2),
            "warnings": decision.stats.get("warnings"),
            "beats_all_random_on_mean_score": rows[0]["percentile"] == 100,
            "diversity_measures_beating_all_random": sum(
                r["percentile"] == 100 for r in rows[QUALITY:]
            ),
            "rows": rows,
        }
        runs.append(run)
        print(
            f"\n--fields {fields} --by '{by}' threshold {threshold}: "
            f"{run['selected_by_source']}; diversity wins {run['diversity_measures_beating_all_random']}"
        )
        print("| measure | better | selection | random mean | random min–max | percentile |")
        print("| --- | --- | ---: | ---: | ---: | ---: |")
        for r in rows:
            print(
                f"| {r['measure']} | {r['better']} | {r['selection']} | {r['random_mean']} | "
                f"{r['random_min']}–{r['random_max']} | {r['percentile']} |"
            )
    result = {
        "command": "PYTHONPATH=src python benchmarks/eval_select.py "
        f"--method {args.method} -n {args.n} --embedding-model {args.embedding_model} "
        f"--measure-model {args.measure_model} --threshold {args.threshold} "
        f"--by '{args.by}' --fields {args.fields}{' --turn-sum' if args.turn_sum else ''} --kmeans {args.kmeans} --pool {args.pool}",
        "measured_in": measure_model,
        "pool": {"records": pool.num_rows, "name": args.pool, "by_source": by_source},
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
