"""Turn the command line's INPUT arguments into concrete sources.

An INPUT is a file, a folder (every supported data file below it, sorted), or
``hf:ORG/NAME[:split]`` for the Hugging Face hub.  A ``.txt`` prompt list (one
prompt per non-empty line) is read only when named: in a folder, ``.txt`` files
are far more often READMEs and licences than prompts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from instructkit.errors import InstructkitError

COMPRESSIONS = (".gz", ".zst")
FILE_TYPES = (".jsonl", ".json", ".parquet", ".csv", ".ndjson", ".txt")
#: What a folder scan picks up.
FOLDER_TYPES = (".jsonl", ".json", ".parquet", ".csv", ".ndjson")
#: Files that instructkit writes beside its outputs; never read back as data from a folder.
SIDECARS = (".rejects.jsonl", ".summary.json", ".hits.jsonl")


@dataclass(frozen=True)
class Source:
    """One readable input: a local file (``kind`` = its type) or a hub dataset (``kind`` = ``hf``)."""

    location: str
    kind: str
    compression: str | None
    name: str

    @property
    def path(self) -> Path:
        return Path(self.location)


def split_suffixes(path: Path) -> tuple[str, str | None, str]:
    """``data.jsonl.gz`` -> (``.jsonl``, ``.gz``, ``data``)."""
    name = path.name
    compression = None
    for ext in COMPRESSIONS:
        if name.endswith(ext):
            compression, name = ext, name[: -len(ext)]
    stem, dot, ext = name.rpartition(".")
    return ("." + ext.lower() if dot else ""), compression, (stem if dot else name)


def file_source(path: Path) -> Source:
    kind, compression, stem = split_suffixes(path)
    if kind not in FILE_TYPES:
        raise InstructkitError(
            f"{path}: unsupported file type '{kind or path.suffix}' "
            f"(expected {', '.join(FILE_TYPES)}, optionally compressed with {', '.join(COMPRESSIONS)})"
        )
    if kind == ".ndjson":
        kind = ".jsonl"
    return Source(str(path), kind.lstrip("."), compression, stem)


def resolve(inputs: list[str], exclude: tuple[Path, ...] = ()) -> list[Source]:
    """The sources named by INPUT arguments; ``exclude`` are files a folder scan skips
    (this run's own output and sidecars)."""
    skip = {p.resolve() for p in exclude}
    if not inputs:
        raise InstructkitError("no INPUT given")
    out: list[Source] = []
    for spec in inputs:
        if spec.startswith("hf:"):
            name = spec[3:]
            dataset, _, split = name.partition(":")
            if not dataset:
                raise InstructkitError(f"'{spec}': expected hf:ORG/NAME[:split]")
            out.append(Source(dataset, "hf", split or None, dataset.rstrip("/").rsplit("/", 1)[-1]))
            continue
        path = Path(spec)
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not p.name.startswith(".")
                and not p.name.endswith(SIDECARS)
                and split_suffixes(p)[0] in FOLDER_TYPES
                and p.resolve() not in skip
            )
            if not files:
                raise InstructkitError(f"{path}: folder holds no supported data file")
            out.extend(file_source(p) for p in files)
        elif path.is_file():
            out.append(file_source(path))
        elif spec == "-":
            raise InstructkitError(
                "'-': reading standard input is not supported; save it to a file"
            )
        elif path.exists():
            raise InstructkitError(
                f"{path}: not a regular file (a device, pipe or socket); save the data to a file"
            )
        else:
            raise InstructkitError(f"{path}: no such file or folder")
    return out
