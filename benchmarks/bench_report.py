"""Page size and render time of the report for a 100k-record run.

The run: every instruction set in ../shared/data/instructions (about 30k real
records, several formats), repeated until 100k records go in, then clean
(fast profile, PII off), exact + near dedup (which removes the repeats) and
score (format metrics), laid out as a run directory.  The run is built once
(``--out``) and the report is timed on it.

    python benchmarks/bench_report.py --out /tmp/bench-report
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from instructkit.engines import local
from instructkit.report import report
from instructkit.steps import get_step

STEPS = [
    ("clean", {"profile": "fast", "pii": "off"}),
    ("dedup", {"method": ["exact", "near"]}),
    ("score", {"metrics": ["format"]}),
]


def build(shared: Path, out: Path, records: int) -> None:
    raw = out / "raw.parquet"
    if not raw.exists():
        local.run([str(shared / "instructions")], out / "converted.parquet", [])
        table = pq.read_table(out / "converted.parquet")
        copies = [table] * (records // table.num_rows) + [table.slice(0, records % table.num_rows)]
        pq.write_table(pa.concat_tables(copies), raw)
    inputs, funnel = [str(raw)], []
    for i, (name, options) in enumerate(STEPS, 1):
        folder = out / "run" / f"{i:02d}-{name}"
        if not (folder / "data.summary.json").exists():
            step = get_step(name).from_config(options, output=folder / "data.parquet")
            local.run(inputs, folder / "data.parquet", [step])
        funnel.append(json.loads((folder / "data.summary.json").read_text())["steps"][name])
        inputs = [str(folder / "data.parquet")]
    (out / "run" / "summary.json").write_text(json.dumps({"steps": funnel}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=Path(__file__).parents[2] / "shared" / "data")
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench-report"))
    ap.add_argument("--records", type=int, default=100_000)
    args = ap.parse_args()
    build(args.shared, args.out, args.records)
    run = args.out / "run"
    started = time.perf_counter()
    result = report([run], run / "report.html", run / "README.md", name="shared-data-100k")
    wall = time.perf_counter() - started
    funnel = json.loads((run / "summary.json").read_text())["steps"]
    print(
        json.dumps(
            {
                "records_in": funnel[0]["records_in"],
                "records_final": result["records"],
                "html_bytes": result["html_bytes"],
                "seconds": result["seconds"],
                "wall_seconds": round(wall, 2),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
