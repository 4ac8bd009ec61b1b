"""The local engine: runs a pipeline over a pool's parquet shards with DuckDB-free pyarrow reads,
shards in parallel threads, memory bounded by the shard size.

Resumable: each finished shard leaves its result and a completion marker under
OUT_DIR/.curascale-work/<run key>/ (the key hashes the pool fingerprint and the steps), so a
rerun after a kill does only the missing shards and writes byte-identical outputs. Outputs are
written only once every shard succeeded, each atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq

from curation import manifest
from curation.pool import UID_DTYPE, Pool, uid_pairs
from curation.steps.base import Filter, Labeler, Step

if TYPE_CHECKING:
    from curation.images import ImageStage

BASE_COLUMNS = ("uid", "url", "text")
WORK = ".curascale-work"


@dataclass
class ShardResult:
    kept: pa.Table
    counts: list[tuple[int, int]]  # (in, out) per step
    excluded: pa.Table


@dataclass
class RunReport:
    rows: int
    counts: list[dict]
    outputs: dict[str, dict] = field(default_factory=dict)  # label (or "") -> sidecar record
    resumed_shards: int = 0


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True, disable=not enabled)


def _pairs(table: pa.Table) -> np.ndarray:
    out = np.empty(table.num_rows, dtype=UID_DTYPE)
    out["f0"] = table.column("uid_hi").to_numpy()
    out["f1"] = table.column("uid_lo").to_numpy()
    return out


def _recorded_path(path: Path, out_dir: Path) -> str:
    """A path for the sidecar: relative to the output folder when inside it (so the record does
    not depend on where the outputs were written), else as given."""
    try:
        return str(Path(path).resolve().relative_to(Path(out_dir).resolve()))
    except ValueError:
        return str(path)


def _ordered_window(executor, function, items, window: int):
    """executor.map(function, items) with at most `window` results read ahead (executor.map
    submits every item at once, so a slow consumer would hold the whole pool in memory)."""
    from collections import deque

    pending = deque()
    for item in items:
        pending.append(executor.submit(function, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


class LocalEngine:
    def __init__(self, workers: int | None = None, progress: bool = True, threads_per_worker: int | None = None):
        """`workers`: shards (or image chunks) processed in parallel; `threads_per_worker`: CPU
        threads each image worker's models may use (default: the cores shared out)."""
        self.workers = workers or min(8, os.cpu_count() or 1)
        self.progress = progress
        self.threads_per_worker = threads_per_worker or max(1, (os.cpu_count() or 1) // self.workers)

    # ---- passes ---------------------------------------------------------------------------
    def scan(self, pool: Pool, columns: Sequence[str], bar=None, label: str = "scan") -> Iterator[pa.Table]:
        task = bar.add_task(label, total=len(pool.shards)) if bar else None
        with ThreadPoolExecutor(self.workers) as executor:
            for table in _ordered_window(executor, lambda shard: pool.read(shard, columns), pool.shards, 2 * self.workers):
                yield table
                if bar:
                    bar.advance(task)

    def run(self, pool: Pool, steps: Sequence[Step], out_dir: str | Path, *, exclusions: bool = False, provenance: dict | None = None, subset_only: bool = False) -> RunReport:
        """Run `steps` over every shard of `pool` into `out_dir`; `provenance` (e.g. the plan and
        fit a sample list came from) is recorded in the sidecar. `subset_only` writes the DataComp
        subset and the sidecar but no parquet manifest, and reads no url or text."""
        out_dir = Path(out_dir)
        rows = pool.rows()
        for step in steps:
            if hasattr(step, "rows"):
                step.rows = rows
        fingerprint = pool.fingerprint()
        with _progress(self.progress) as bar:
            for step in steps:
                step.prepare(lambda columns, step=step: self.scan(pool, columns, bar, f"prepare {step.name}"))
            chain = [step.describe() for step in steps]
            identity = {"pool": fingerprint, "chain": chain, "exclusions": exclusions, **({"subset_only": True} if subset_only else {})}
            key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=float).encode()).hexdigest()[:16]
            work = out_dir / WORK / key
            work.mkdir(parents=True, exist_ok=True)
            pending = [s for s in pool.shards if not (work / f"{s.stem}.done.json").exists()]
            task = bar.add_task("filter shards", total=len(pool.shards), completed=len(pool.shards) - len(pending))
            for _ in self.map_shards(lambda shard: self._shard(pool, shard, steps, work, exclusions, subset_only), pending):
                bar.advance(task)
        report = self._finish(pool, steps, chain, fingerprint, work, out_dir, rows, exclusions, provenance or {}, subset_only)
        report.resumed_shards = len(pool.shards) - len(pending)
        return report

    def map_shards(self, work, shards):
        """`work(shard)` for every shard, in parallel threads; yields as each finishes, in order
        (the Ray engine runs them as Ray tasks instead)."""
        with ThreadPoolExecutor(self.workers) as executor:
            yield from executor.map(work, shards)

    def run_images(self, stage: ImageStage) -> int:
        """Run an image stage over its pending shards; returns how many shards an earlier run had
        finished. Chunks run in parallel threads (each thread with its own copy of the steps),
        a few shards in flight at a time; each shard is written once all its chunks are back."""
        import threading
        from collections import deque

        from curation.images import apply
        from curation.webdataset import read_shard

        pending = stage.pending()
        local = threading.local()

        def process(batch):
            if not hasattr(local, "steps"):
                local.steps = stage.setup_copy(self.threads_per_worker)
            return apply(local.steps, batch)

        with _progress(self.progress) as bar, ThreadPoolExecutor(self.workers) as executor:
            shards = bar.add_task("image shards", total=len(stage.shards), completed=len(stage.shards) - len(pending))
            images = bar.add_task("images", total=0)
            in_flight: deque = deque()
            read = 0

            def finish():
                samples, futures = in_flight.popleft()
                stage.write_shard(samples.path, samples.errors, [future.result() for future in futures])
                bar.advance(shards)
                bar.advance(images, samples.count)

            for path in pending:
                samples = read_shard(path)
                read += samples.count
                bar.update(images, total=read)
                in_flight.append((samples, [executor.submit(process, batch) for batch in stage.chunks(samples)]))
                while len(in_flight) > 2:
                    finish()
            while in_flight:
                finish()
        return len(stage.shards) - len(pending)

    # ---- one shard --------------------------------------------------------------------------
    def _shard(self, pool: Pool, shard: Path, steps: Sequence[Step], work: Path, exclusions: bool, subset_only: bool = False) -> None:
        base = ("uid",) if subset_only else BASE_COLUMNS
        score_columns = [] if subset_only else [c for step in steps for c in step.manifest_columns]
        columns = list(dict.fromkeys([*base, *score_columns, *(c for step in steps for c in step.columns)]))
        table = pool.read(shard, columns)
        pairs = uid_pairs(table.column("uid"), shard=str(shard))
        alive = np.ones(table.num_rows, dtype=bool)
        has_labels = any(isinstance(step, Labeler) for step in steps)
        reasons = np.full(table.num_rows if exclusions else 0, None, dtype=object)  # filled only when asked for
        labels = np.full(table.num_rows if has_labels else 0, None, dtype=object)
        counts = []
        for step in steps:
            before = int(alive.sum())
            rows = np.flatnonzero(alive)
            subset = table if rows.size == table.num_rows else table.take(pa.array(rows))
            if isinstance(step, Filter):
                dropped = rows[~np.asarray(step.keep(subset), dtype=bool)]
                reason = step.reason()
            elif isinstance(step, Labeler):
                found = step.label(subset)
                labels[rows] = found
                dropped = rows[np.array([v is None for v in found], dtype=bool)]
                reason = f"{step.name}: outside every bucket"
            alive[dropped] = False
            if exclusions:
                reasons[dropped] = reason
            counts.append((before, int(alive.sum())))
        kept_rows = np.flatnonzero(alive)
        kept_rows = kept_rows[np.lexsort((pairs["f1"][kept_rows], pairs["f0"][kept_rows]))]  # uid order: the subset's sort merges sorted runs
        stored = [] if subset_only else list(dict.fromkeys([*base, *score_columns]))
        indices = pa.array(kept_rows)
        weights = next((s.weights for s in steps if isinstance(s, Labeler) and s.weights), None) or {}
        kept_labels = labels[kept_rows] if has_labels else np.full(kept_rows.size, None, dtype=object)
        repetition = np.ones(kept_labels.size)
        for label, weight in weights.items():
            repetition[kept_labels == label] = weight
        kept = pa.table({
            **{c: table.column(c).take(indices) for c in stored},
            "uid_hi": pa.array(pairs["f0"][kept_rows]),
            "uid_lo": pa.array(pairs["f1"][kept_rows]),
            "bucket": pa.array(kept_labels.tolist(), type=pa.string()) if has_labels else pa.nulls(kept_rows.size, pa.string()),
            "repetition_weight": pa.array(repetition),
        })
        result = work / f"{shard.stem}.parquet"
        manifest.write_parquet(result, [kept], kept.schema, compression="none", digest=False)  # work files: fast over small
        if exclusions:
            dropped = ~alive
            excluded = pa.table({"uid": table.column("uid").take(pa.array(np.flatnonzero(dropped))), "reason": pa.array(reasons[dropped].tolist(), type=pa.string())})
            manifest.write_parquet(work / f"{shard.stem}.excluded.parquet", [excluded], excluded.schema)
        manifest.atomic_write(work / f"{shard.stem}.done.json", json.dumps({"counts": counts}).encode())

    # ---- outputs ----------------------------------------------------------------------------
    def _finish(self, pool, steps, chain, fingerprint, work, out_dir, rows, exclusions, provenance, subset_only=False) -> RunReport:
        totals = np.zeros((len(steps), 2), dtype=np.int64)
        for shard in pool.shards:
            totals += np.asarray(json.loads((work / f"{shard.stem}.done.json").read_text())["counts"], dtype=np.int64).reshape(len(steps), 2)
        counts = [{"step": d["step"], "in": int(i), "out": int(o)} for d, (i, o) in zip(chain, totals)]
        labeler = next((s for s in steps if isinstance(s, Labeler)), None)
        labels = labeler.buckets if labeler is not None and labeler.split else [None]
        schema = pq.read_schema(work / f"{pool.shards[0].stem}.parquet")
        report = RunReport(rows=rows, counts=counts)

        def results(label):
            for shard in pool.shards:
                table = pq.read_table(work / f"{shard.stem}.parquet")
                if label is not None:
                    table = table.filter(pa.compute.equal(table.column("bucket"), label))
                yield table

        manifest_schema = schema.remove(schema.get_field_index("uid_lo")).remove(schema.get_field_index("uid_hi"))
        for label in labels:
            target = out_dir if label is None else out_dir / label
            uid_parts: list[np.ndarray] = []  # filled while the manifest streams: one read of the results

            def manifest_rows(label=label, uid_parts=uid_parts):
                for table in results(label):
                    uid_parts.append(_pairs(table))
                    yield table.drop(["uid_hi", "uid_lo"])

            if subset_only:
                uid_parts.extend(_pairs(table) for table in results(label))
                outputs = {}
            else:
                outputs = {"manifest.parquet": manifest.write_parquet(target / "manifest.parquet", manifest_rows(), manifest_schema)}
            pairs = np.concatenate(uid_parts)
            outputs["subset.npy"] = manifest.write_subset(target / "subset.npy", pairs)
            if exclusions and label is None:
                tables = [pq.read_table(work / f"{shard.stem}.excluded.parquet") for shard in pool.shards]
                outputs["exclusions.parquet"] = manifest.write_parquet(target / "exclusions.parquet", tables, tables[0].schema)
            record = {
                "pool": {"path": _recorded_path(pool.root, out_dir), "fingerprint": fingerprint, "shards": len(pool.shards), "rows": rows},
                "chain": chain, "counts": counts, "bucket": label, "samples": int(len(pairs)), "sha256": outputs, **provenance,
            }
            manifest.write_sidecar(target / "manifest.json", record)
            report.outputs[label or ""] = record
        return report
