"""The dataset card (README.md): Hugging Face metadata, then how the set was made and what it may be used for.

The header follows the hub's dataset-card metadata (license, language,
task_categories, size_categories, source_datasets, annotations_creators,
configs); the body states every count of the run's funnel and statistics, the
licenses and where they conflict, the decontamination, the selection, the
known limitations and the recipe that reproduces the set.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import yaml

from instructkit import __version__
from instructkit.report.figures import Figures
from instructkit.report.load import RunData, StepRun

#: Languages below this share of the records are left out of the header.
MIN_LANGUAGE_SHARE = 0.01
SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))


def size_category(n: int) -> str:
    return next((label for limit, label in SIZES if n < limit), "1M<n<10M" if n < 10**7 else "n>1M")


def md(value: Any) -> str:
    """A value in a Markdown table cell or line: no table breaks, no HTML."""
    text = str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    return text.replace("<", "&lt;").replace(">", "&gt;")


def licenses(run: RunData, fig: Figures) -> dict[str, str | None]:
    """License per source of the final set (None where the recipe states none)."""
    return {r["source"]: r.get("license") for r in fig.sources}


def conflicts(by_source: dict[str, str | None]) -> list[str]:
    """Warnings for license terms that bind the whole mix or cannot be met together."""
    out = []
    nc = sorted(s for s, lic in by_source.items() if lic and "-nc" in lic.lower())
    sa = sorted(
        s for s, lic in by_source.items() if lic and ("-sa" in lic.lower() or "gpl" in lic.lower())
    )
    if nc and sa:
        out.append(
            f"License conflict: {', '.join(f'{s} ({by_source[s]})' for s in nc)}: no commercial use; "
            f"{', '.join(f'{s} ({by_source[s]})' for s in sa)}: derivatives must be shared "
            "under the same license. A mix of both cannot be shared under either license alone; "
            "use it for non-commercial research only, or split it by source."
        )
    elif nc:
        out.append(
            f"Non-commercial: {', '.join(f'{s} ({by_source[s]})' for s in nc)}: no commercial "
            "use, and the mix inherits that."
        )
    unknown = sorted(s for s, lic in by_source.items() if not lic)
    if unknown:
        out.append(
            f"No license stated for {', '.join(unknown)}: check the original terms before sharing."
        )
    return out


def header(run: RunData, fig: Figures, data_file: str | None) -> dict[str, Any]:
    by_source = licenses(run, fig)
    known = sorted({lic for lic in by_source.values() if lic})
    total: Counter[str] = Counter()
    for c in fig.languages.values():
        total.update(c)
    n_lang = sum(total.values()) or 1
    langs = sorted(
        k for k, v in total.items() if k != "unknown" and v / n_lang >= MIN_LANGUAGE_SHARE
    )
    generated = any(r["generated"] for r in fig.sources) or any(
        s.name in ("evolve", "generate") for s in run.steps
    )
    meta: dict[str, Any] = {
        "pretty_name": run.name,
        "license": (known[0] if len(known) == 1 else known) if known else "unknown",
    }
    if langs:
        meta["language"] = langs
    meta |= {
        "task_categories": ["text-generation"],
        "size_categories": [size_category(fig.records)],
        "source_datasets": sorted({_source_dataset(i) for i in run.inputs} or {"original"}),
        "annotations_creators": ["found", "machine-generated"] if generated else ["found"],
        "tags": ["instruction-tuning", "sft", "instructkit"],
    }
    if data_file:
        meta["configs"] = [
            {"config_name": "default", "data_files": [{"split": "train", "path": data_file}]}
        ]
    return meta


def _source_dataset(inp: dict[str, Any]) -> str:
    """A hub id for ``hf:`` inputs; local files are "original" (the body's table names them)."""
    path = str(inp.get("path", ""))
    return path.removeprefix("hf:").split(":")[0] if path.startswith("hf:") else "original"


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every number in a step's statistics with its path (``hits.mmlu:ngram:contaminated``)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in flatten(v, f"{prefix}{k}.")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in flatten(v, f"{prefix}{i}.")]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return []
    return [(prefix.rstrip("."), value)]


FUNNEL_KEYS = ("step", "config", "records_in", "records_out", "generated", "rejected", "seconds")


def _n(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else f"{v:,.4g}"


def _step_section(step: StepRun) -> list[str]:
    e = step.entry
    rejected = e.get("rejected") or {}
    lines = [
        f"### {md(step.label)}",
        "",
        f"{_n(int(e.get('records_in') or 0))} records in, {_n(int(e.get('generated') or 0))} generated, "
        f"{_n(int(e.get('records_out') or 0))} out, {_n(sum(rejected.values()))} rejected"
        + (": " + ", ".join(f"{md(k)} {_n(v)}" for k, v in rejected.items()) if rejected else "")
        + ".",
        "",
    ]
    config = e.get("config") or {}
    if config:
        lines += ["Settings: " + "; ".join(f"`{k}` = `{md(v)}`" for k, v in config.items()), ""]
    stats = {k: v for k, v in e.items() if k not in FUNNEL_KEYS and "seconds" not in k}
    figures = flatten(stats)
    if figures:
        lines += ["Figures: " + "; ".join(f"{md(k)} {_n(v)}" for k, v in figures), ""]
    return lines


def _decontamination(run: RunData) -> list[str]:
    steps = [s for s in run.steps if s.name == "decontaminate"]
    if not steps:
        return ["This set was **not** checked for benchmark contamination.", ""]
    lines = []
    for s in steps:
        c = s.entry.get("config") or {}
        methods = [
            f"word {c.get('ngram', '?')}-gram overlap (min overlap {c.get('min-overlap', 0)})"
        ]
        if str(c.get("embedding-model", "none")) != "none":
            methods.append(
                f"embedding similarity with {c.get('embedding-model')} (cosine ≥ {c.get('embedding-threshold')}, "
                f"suspicious band from {c.get('suspicious-band')})"
            )
        if c.get("judge-url"):
            methods.append(f"an LLM judge ({c.get('judge-model')}) on the suspicious band")
        removed = (s.entry.get("rejected") or {}).get("contaminated", 0)
        hits = s.entry.get("hits") or {}
        lines += [
            f"Checked against {', '.join(md(b) for b in c.get('benchmark', [])) or 'no benchmark'} "
            f"by {'; '.join(methods)}. Mode `{c.get('mode', 'filter')}`: "
            f"{_n(removed)} records removed as contaminated.",
            "",
        ]
        if hits:
            lines += ["| benchmark: method: verdict | hits |", "| --- | --- |"]
            lines += [f"| {md(k)} | {_n(v)} |" for k, v in hits.items()]
            lines.append("")
    return lines


def _limitations(run: RunData, fig: Figures) -> list[str]:
    names = {s.name for s in run.steps}
    out = [
        "Scores are automatic measures (parsers, small models); they rank records, they do not certify them.",
    ]
    if "clean" in names:
        out.append(
            "PII redaction and refusal filters are pattern- and model-based: some PII and some refusals remain."
        )
    if "decontaminate" in names:
        out.append(
            "Decontamination covers only the benchmarks named above; paraphrases below the thresholds pass."
        )
    if any(r["generated"] for r in fig.sources) or {"evolve", "generate"} & names:
        out.append("Machine-generated records were checked automatically, not by people.")
    if "dedup" not in names:
        out.append("Duplicates were not removed.")
    if fig.language_note.startswith("identified by the report"):
        out.append(f"Languages were {fig.language_note}.")
    return out


def render_card(run: RunData, fig: Figures, data_file: str | None = None) -> str:
    """The README.md text: YAML metadata between ``---`` lines, then Markdown."""
    meta = yaml.safe_dump(header(run, fig, data_file), sort_keys=False, allow_unicode=True)
    by_source = licenses(run, fig)
    lines = [
        "---",
        meta.rstrip(),
        "---",
        "",
        f"# {md(run.name)}",
        "",
        f"An instruction-tuning (SFT) set of {_n(fig.records)} records in the `messages` format, "
        f"curated with instructkit {__version__}.",
        "",
    ]
    lines += [f"> **Warning.** {md(w)}" for w in conflicts(by_source)] + [""]
    lines += [
        "## Sources",
        "",
        "| source | records | share | kind | license |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {md(r['source'])} | {_n(r['records'])} | {r['share']:.1%} | {md(r['kind'])} | {md(r['license'] or 'not stated')} |"
        for r in fig.sources
    ]
    if run.inputs:
        lines += ["", "Inputs: " + "; ".join(md(i.get("path", "")) for i in run.inputs)]
    lines += ["", "## Curation", ""]
    for s in run.steps:
        lines += _step_section(s)
    lines += ["## Decontamination", ""] + _decontamination(run)
    selects = [s for s in run.steps if s.name == "select"]
    if selects:
        lines += ["## Selection", ""]
        for s in selects:
            c = s.entry.get("config") or {}
            lines += [
                f"Method `{md(c.get('method', '?'))}`: "
                + "; ".join(f"`{k}` = `{md(v)}`" for k, v in c.items())
                + f". {_n(int(s.entry.get('records_out') or 0))} of "
                f"{_n(int(s.entry.get('records_in') or 0))} records selected.",
                "",
            ]
    lines += ["## Known limitations", ""] + [f"- {md(x)}" for x in _limitations(run, fig)] + [""]
    lines += ["## Reproduce", "", f"Made with instructkit {__version__}."]
    if run.recipe:
        lines += ["", "```yaml", run.recipe.rstrip().replace("```", "`\u200b``"), "```", "",
                  "`instructkit run recipe.yaml` (save the recipe above as recipe.yaml)."]  # fmt: skip
    else:
        lines += ["", "The steps in order, with the settings listed under Curation:", ""]
        lines += [f"{i}. `instructkit {md(s.name)}`" for i, s in enumerate(run.steps, 1)]
    return "\n".join(lines) + "\n"
