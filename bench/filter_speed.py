"""Filter speed and memory: `curascale curate clip-score --arch l14 --fraction 0.3` on a 12.8M-row
demo pool (DataComp small) versus a reference written the way DataComp's baseline does it
(pandas reads the uid and score columns of every shard, numpy sorts, np.save), each in its own
process so wall time and peak memory are its own. Prints both, the ratios, and whether the two
subsets are identical.

    python bench/filter_speed.py [--rows 12800000] [--shards 32] [--pool DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def reference(pool: Path, out: Path) -> None:
    import pandas as pd

    key = "clip_l14_similarity_score"
    frame = pd.concat([pd.read_parquet(shard, columns=["uid", key]) for shard in sorted(pool.glob("*.parquet"))], ignore_index=True)
    n = int(len(frame) * 0.3)
    threshold = -np.sort(-frame[key].values)[n]
    uids = frame[frame[key] >= threshold]["uid"]
    pairs = np.array([(int(u[:16], 16), int(u[16:], 16)) for u in uids], np.dtype("u8,u8"))
    pairs.sort()
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "subset.npy", pairs)


def child(kind: str, pool: Path, out: Path) -> None:
    started = time.perf_counter()
    if kind == "reference":
        reference(pool, out)
    else:
        from curation.engines.local import LocalEngine
        from curation.pool import Pool
        from curation.steps.clip_score import ClipScore

        LocalEngine(progress=False).run(Pool.open(pool), [ClipScore(arch="l14", fraction=0.3)], out, subset_only=kind == "curascale-subset")
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mib": peak_mib}))


def measure(kind: str, pool: Path, out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)  # a fresh output folder: nothing to resume from
    result = subprocess.run([sys.executable, __file__, "--child", kind, "--pool", str(pool), "--out", str(out)], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=12_800_000)
    parser.add_argument("--shards", type=int, default=32)
    parser.add_argument("--pool", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("/tmp/curascale-bench"))
    parser.add_argument("--child", choices=["reference", "curascale", "curascale-subset"])
    args = parser.parse_args()
    if args.child:
        child(args.child, args.pool, args.out)
        return
    pool = args.pool or args.out / f"pool-{args.rows}"
    if not pool.exists() or len(list(pool.glob("*.parquet"))) != args.shards:
        from curation.demo import write_demo_pool

        print(f"writing a {args.rows:,}-row demo pool to {pool} ...", flush=True)
        write_demo_pool(pool, args.rows, shards=args.shards, seed=0)
    for shard in sorted(pool.glob("*.parquet")):  # warm the page cache: every run reads from memory
        shard.read_bytes()
    subset = measure("curascale-subset", pool, args.out / "curascale-subset-out")
    ours = measure("curascale", pool, args.out / "curascale-out")
    theirs = measure("reference", pool, args.out / "reference-out")
    reference_subset = np.load(args.out / "reference-out" / "subset.npy")
    identical = all(np.array_equal(np.load(args.out / name / "subset.npy"), reference_subset) for name in ("curascale-out", "curascale-subset-out"))
    print(f"pool: {args.rows:,} rows in {args.shards} shards; clip_score --arch l14 --fraction 0.3")
    print(f"reference (DataComp's way):          {theirs['seconds']:7.2f} s, peak {theirs['peak_mib']:8.0f} MiB  (subset.npy)")
    print(f"curascale --subset-only (same work): {subset['seconds']:7.2f} s, peak {subset['peak_mib']:8.0f} MiB  (subset.npy + sidecar)")
    print(f"curascale, all outputs:              {ours['seconds']:7.2f} s, peak {ours['peak_mib']:8.0f} MiB  (+ manifest.parquet with url, text, score)")
    for name, run in (("same work", subset), ("all outputs", ours)):
        print(f"{name}: speed-up {theirs['seconds'] / run['seconds']:.2f}x (goal >= 3); peak memory ratio {run['peak_mib'] / theirs['peak_mib']:.2f} (goal <= 0.5)")
    print(f"subsets identical: {identical}")


if __name__ == "__main__":
    main()
