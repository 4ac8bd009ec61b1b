"""Filter memory at DataComp's scale: the CLIP-score fraction filter (`ScoreFilter`, fraction
0.3: the exact threshold, then every shard filtered) on a 12.8M-row and a 128M-row pool of uid
and score columns, each in its own process. Prints wall time and peak RSS for both, the RSS
ratio (goal: <= 1.2, peak memory set by the shard, not the pool) and the time per row ratio
(goal: about 1, time linear in rows). The default is ScoreFilter's own selection
(`curation.select.pool_kth_largest`: the top k held while k <= 4M values, the radix select
beyond); `--method top_values` always holds the top n+1 scores (the previous selection).

    python bench/filter_scale.py [--small 12800000] [--large 128000000] [--shard-rows 1280000]

The pools are written once to --out (about 0.23 GB per 10M rows) and reused. Writing
subset.npy is not part of the measure: it holds and sorts the kept uids (16 bytes a kept row).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

COLUMN = "clip_l14_similarity_score"


def write_pool(root: Path, rows: int, shard_rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curascale import io
    from curation.demo import _hex_strings

    root.mkdir(parents=True, exist_ok=True)
    for index, start in enumerate(range(0, rows, shard_rows)):
        size = min(shard_rows, rows - start)
        rng = np.random.default_rng([0, index])
        scores = np.clip(rng.normal(0.27, 0.04, size), 0, 0.5).astype(np.float32)
        with io.atomic_path(root / f"{index:08d}.parquet") as temporary:
            pq.write_table(pa.table({"uid": _hex_strings(rng, size, 32), COLUMN: scores}), temporary, compression="zstd")


def child(pool: Path, method: str) -> None:
    from curation.engines.local import LocalEngine
    from curation.pool import Pool
    from curation.steps.base import top_values
    from curation.steps.score_filter import ScoreFilter

    pool_ = Pool.open(pool)
    started = time.perf_counter()
    engine = LocalEngine(progress=False)
    step = ScoreFilter(score_column=COLUMN, fraction=0.3)
    step.rows = pool_.rows()
    scan = lambda columns: engine.scan(pool_, columns)  # noqa: E731
    if method == "top_values":
        n = int(step.rows * step.fraction)
        step.applied_threshold = float(top_values(scan, COLUMN, n + 1).values[n])
    else:
        step.prepare(scan)
    selected = time.perf_counter() - started
    kept = sum(int(step.keep(table).sum()) for table in scan((COLUMN,)))
    print(json.dumps({"rows": step.rows, "kept": kept, "threshold": step.applied_threshold, "seconds": time.perf_counter() - started, "threshold_seconds": selected,
                      "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def measure(pool: Path, method: str) -> dict:
    result = subprocess.run([sys.executable, __file__, "--child", str(pool), "--method", method], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=12_800_000)
    parser.add_argument("--large", type=int, default=128_000_000)
    parser.add_argument("--shard-rows", type=int, default=1_280_000)
    parser.add_argument("--method", choices=["default", "top_values"], default="default")
    parser.add_argument("--out", type=Path, default=Path("/tmp/curascale-bench-scale"))
    parser.add_argument("--child", type=Path, default=None)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.method)
        return
    runs = []
    for rows in (args.small, args.large):
        pool = args.out / f"pool-{rows}"
        if not (pool / ".complete").exists():
            print(f"writing a {rows:,}-row pool (uid, score) to {pool} ...", flush=True)
            write_pool(pool, rows, args.shard_rows)
            from curascale import io

            io.write_text(pool / ".complete", "")
        runs.append(measure(pool, args.method))
    small, large = runs
    print(f"ScoreFilter fraction 0.3 on {COLUMN} ({args.method}), {args.shard_rows:,}-row shards")
    for run in runs:
        print(f"{run['rows']:>13,} rows: {run['seconds']:8.2f} s ({run['threshold_seconds']:.2f} s for the threshold), peak RSS {run['peak_mib']:8.0f} MiB, kept {run['kept']:,} (threshold {run['threshold']:.6f})")
    print(f"peak RSS ratio (large / small): {large['peak_mib'] / small['peak_mib']:.2f} (goal <= 1.2)")
    print(f"time per row ratio (large / small): {(large['seconds'] / large['rows']) / (small['seconds'] / small['rows']):.2f} (linear: about 1)")


if __name__ == "__main__":
    main()
