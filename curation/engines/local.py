"""The local engine: runs a pipeline over a pool's parquet shards with DuckDB-free pyarrow reads,
shards in parallel threads, memory bounded by the shard size.

Resumable: each finished shard leaves its result and a completion marker under
OUT_DIR/.curascale-work/<run key>/ (the key hashes the pool fingerprint and the steps), so a
rerun after a kill does only the missing shards and writes byte-identical outputs.

Outputs (subset.npy, manifest.parquet, exclusions.parquet and manifest.json, per bucket folder
where a labeller splits) are staged once every shard succeeded and published as one set
(`curascale.io.publish_set`): a kill at any moment leaves the old complete set or the new one.
The output folder is claimed for the whole run (`curation.out_dir.claim`: locked, never the pool).

What the engine adds to the steps' rules:
- uids: upper-case hex is accepted (as DataComp's `int(uid, 16)` does) and written lower-case;
- duplicate uids, within or across shards, are found over the whole pool and reported with
  shard, row and uid (manifest.json, notes); among the copies that pass every step only the first
  (in shard, then row order) reaches the outputs, the others are excluded as "duplicate uid";
  `on_duplicate="error"` rejects the pool instead. So subset.npy never holds a uid twice (DataComp's
  resharder would write such a sample twice) and bucket sizes count unique samples;
- every dropped row has a step and a reason (the rule: "caption too short", "null score", ...),
  counted per step in manifest.json ("excluded"), per shard for faulty data ("integrity"), and
  listed row by row in exclusions.parquet when asked for.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curascale import io
from curascale.errors import CurascaleError
from curascale.notes import Note
from curation import manifest
from curation.out_dir import WORK, claim, target
from curation.pool import UID_DTYPE, Pool, duplicate_uids, pair_to_uid, uid_pairs
from curation.steps.base import DATA_FAULTS, Filter, Labeler, Step, number

if TYPE_CHECKING:
    from curation.images import ImageStage

BASE_COLUMNS = ("uid", "url", "text")
ON_DUPLICATE = ("keep-first", "error")
DUPLICATE = "duplicate uid"
WORK_FORMAT = 2  # work files of format 1 (before row numbers and uid lists) are not resumed
LISTED_DUPLICATES = 1000  # manifest.json lists this many duplicated uids (exclusions.parquet: all)


@dataclass
class RunReport:
    rows: int
    counts: list[dict]
    outputs: dict[str, dict] = field(default_factory=dict)  # label (or "") -> sidecar record
    resumed_shards: int = 0
    notes: list[Note] = field(default_factory=list)


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
        if workers is not None:
            number(workers, "workers", low=1, integer=True)
        if threads_per_worker is not None:
            number(threads_per_worker, "threads_per_worker", low=1, integer=True)
        self.workers = int(workers or min(8, os.cpu_count() or 1))
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

    def run(self, pool: Pool, steps: Sequence[Step], out_dir: str | Path, *, exclusions: bool = False, provenance: dict | None = None,
            subset_only: bool = False, on_duplicate: str = "keep-first") -> RunReport:
        """Run `steps` over every shard of `pool` into `out_dir`; `provenance` (e.g. the plan and
        fit a sample list came from) is recorded in the sidecar. `subset_only` writes the DataComp
        subset and the sidecar but no parquet manifest, and reads no url or text. `on_duplicate`:
        "keep-first" (the first copy of a duplicated uid that passes every step is kept) or
        "error" (a pool with a duplicated uid is rejected). Errors: `CurascaleError` (one line)."""
        if on_duplicate not in ON_DUPLICATE:
            raise CurascaleError(f"on_duplicate must be one of {', '.join(ON_DUPLICATE)}, got {on_duplicate!r}")
        with claim(out_dir, pool=pool.location) as folder:  # a URL: a local staging folder, published when the run succeeds
            for step in steps:
                if isinstance(step, Labeler):
                    for label in (step.buckets if step.split else []):
                        target(folder, label)
            return self._run(pool, steps, folder, exclusions, provenance or {}, subset_only, on_duplicate)

    def _run(self, pool, steps, out_dir, exclusions, provenance, subset_only, on_duplicate) -> RunReport:
        rows = pool.rows()
        for step in steps:
            if hasattr(step, "rows"):
                step.rows = rows
        fingerprint = pool.fingerprint()
        with _progress(self.progress) as bar:
            for step in steps:
                step.prepare(lambda columns, step=step: self.scan(pool, columns, bar, f"prepare {step.name}"))
            chain = [step.describe() for step in steps]
            identity = {"pool": fingerprint, "chain": chain, "exclusions": exclusions, "work_format": WORK_FORMAT, **({"subset_only": True} if subset_only else {})}
            key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=float).encode()).hexdigest()[:16]
            work = out_dir / WORK / key
            work.mkdir(parents=True, exist_ok=True)
            pending = [s for s in pool.shards if not (work / f"{s.stem}.done.json").exists()]
            task = bar.add_task("filter shards", total=len(pool.shards), completed=len(pool.shards) - len(pending))
            for _ in self.map_shards(lambda shard: self._shard(pool, shard, steps, work, exclusions, subset_only), pending):
                bar.advance(task)
        report = self._finish(pool, steps, chain, fingerprint, work, out_dir, rows, exclusions, provenance, subset_only, on_duplicate)
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
        if not subset_only or exclusions:
            table = table.set_column(table.schema.get_field_index("uid"), "uid", pc.ascii_lower(table.column("uid")))  # DataComp accepts upper-case hex
        alive = np.ones(table.num_rows, dtype=bool)
        has_labels = any(isinstance(step, Labeler) for step in steps)
        step_of = np.full(table.num_rows if exclusions else 0, None, dtype=object)  # filled only when asked for
        reason_of = np.full(table.num_rows if exclusions else 0, None, dtype=object)
        labels = np.full(table.num_rows if has_labels else 0, None, dtype=object)
        counts, excluded = [], []
        for step in steps:
            before = int(alive.sum())
            rows = np.flatnonzero(alive)
            subset = table if rows.size == table.num_rows else table.take(pa.array(rows))
            if isinstance(step, Filter):
                verdict = step.judge(subset)
                drop = ~verdict.kept
            else:
                found = step.label(subset)
                labels[rows] = found
                drop = np.equal(found, None)
                verdict = step.unlabelled(subset)
            tally = np.bincount(verdict.codes[drop], minlength=len(verdict.reasons) + 1)
            excluded.append({reason: int(n) for reason, n in zip(verdict.reasons, tally[1:]) if n})
            alive[rows[drop]] = False
            if exclusions:
                step_of[rows[drop]] = step.name
                reason_of[rows[drop]] = verdict.reason_of()[drop]
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
            "row": pa.array(kept_rows.astype(np.int64)),
            "bucket": pa.array(kept_labels.tolist(), type=pa.string()) if has_labels else pa.nulls(kept_rows.size, pa.string()),
            "repetition_weight": pa.array(repetition),
        })
        manifest.write_parquet(work / f"{shard.stem}.parquet", [kept], kept.schema, compression="none", digest=False)  # work files: fast over small
        with io.open_atomic(work / f"{shard.stem}.uids.npy", "wb") as handle:  # every uid, in row order: duplicates are found over the pool
            np.save(handle, pairs)
        if exclusions:
            rows = np.flatnonzero(~alive)
            listed = exclusion_table(table.column("uid").take(pa.array(rows)), shard.name, rows, step_of[rows].tolist(), reason_of[rows].tolist())
            manifest.write_parquet(work / f"{shard.stem}.excluded.parquet", [listed], listed.schema)
        manifest.atomic_write(work / f"{shard.stem}.done.json", json.dumps({"counts": counts, "excluded": excluded}).encode())

    # ---- outputs ----------------------------------------------------------------------------
    def _finish(self, pool, steps, chain, fingerprint, work, out_dir, rows, exclusions, provenance, subset_only, on_duplicate) -> RunReport:
        records = [json.loads((work / f"{shard.stem}.done.json").read_text()) for shard in pool.shards]
        totals = np.zeros((len(steps), 2), dtype=np.int64)
        for record in records:
            totals += np.asarray(record["counts"], dtype=np.int64).reshape(len(steps), 2)
        counts = [{"step": d["step"], "in": int(i), "out": int(o)} for d, (i, o) in zip(chain, totals)]
        excluded = [{"step": d["step"], "reason": reason, "rows": n} for index, d in enumerate(chain)
                    for reason, n in sorted(sum((Counter(r["excluded"][index]) for r in records), Counter()).items())]
        integrity = [{"shard": shard.name, "step": d["step"], "reason": reason, "rows": n}
                     for shard, record in zip(pool.shards, records) for d, found in zip(chain, record["excluded"])
                     for reason, n in sorted(found.items()) if reason in DATA_FAULTS]
        duplicates = duplicate_uids([np.load(work / f"{shard.stem}.uids.npy") for shard in pool.shards])
        if duplicates and on_duplicate == "error":
            first = duplicates[0]
            where = " and ".join(f"{pool.shards[s].name} row {r + 1}" for s, r in first.copies[:2])
            raise CurascaleError(f"{pool.root}: duplicate uid {first.uid} at {where} ({len(duplicates):,} uids appear more than once; on_duplicate='keep-first' keeps the first copy of each)")
        later = _later_copies(pool, work, duplicates)
        dropped = int(sum(r.size for r in later.values()))
        if duplicates:
            counts.append({"step": "duplicates", "in": int(totals[-1, 1]) if len(steps) else rows, "out": (int(totals[-1, 1]) if len(steps) else rows) - dropped})
            excluded.append({"step": "duplicates", "reason": DUPLICATE, "rows": dropped})

        labeler = next((s for s in steps if isinstance(s, Labeler)), None)
        labels = labeler.buckets if labeler is not None and labeler.split else [None]
        schema = pq.read_schema(work / f"{pool.shards[0].stem}.parquet")
        manifest_schema = pa.schema([f for f in schema if f.name not in ("uid_hi", "uid_lo", "row")])

        def results(label):
            for index, shard in enumerate(pool.shards):
                table = pq.read_table(work / f"{shard.stem}.parquet")
                if index in later:
                    table = table.filter(pa.array(~np.isin(table.column("row").to_numpy(), later[index])))
                if label is not None:
                    table = table.filter(pc.equal(table.column("bucket"), label))
                yield table

        staged: dict[str, Path] = {}
        top: dict[str, str] = {}  # a split run's own outputs in the output folder (exclusions.parquet): name -> sha256
        written: dict[str | None, tuple[dict, int]] = {}
        sizes: Counter = Counter()

        def stage(name: str) -> Path:
            staged[name] = io.stage_path(out_dir, name)
            return staged[name]

        try:
            for label in labels:
                prefix = "" if label is None else f"{label}/"
                uid_parts: list[np.ndarray] = []  # filled while the manifest streams: one read of the results

                def manifest_rows(label=label, uid_parts=uid_parts):
                    for table in results(label):
                        uid_parts.append(_pairs(table))
                        sizes.update(Counter(table.column("bucket").to_pylist()) if labeler is not None and not labeler.split else {})
                        yield table.drop(["uid_hi", "uid_lo", "row"])

                if subset_only:
                    for table in results(label):
                        uid_parts.append(_pairs(table))
                        sizes.update(Counter(table.column("bucket").to_pylist()) if labeler is not None and not labeler.split else {})
                    outputs = {}
                else:
                    outputs = {"manifest.parquet": manifest.write_parquet(stage(f"{prefix}manifest.parquet"), manifest_rows(), manifest_schema)}
                pairs = np.concatenate(uid_parts)
                outputs["subset.npy"] = manifest.write_subset(stage(f"{prefix}subset.npy"), pairs)
                if exclusions and label == labels[0]:  # one list for the whole run, in the output folder itself
                    tables = [pq.read_table(work / f"{shard.stem}.excluded.parquet") for shard in pool.shards]
                    tables += [_duplicate_exclusions(pool, work, later)]
                    (outputs if label is None else top)["exclusions.parquet"] = manifest.write_parquet(stage("exclusions.parquet"), tables, tables[0].schema)
                written[label] = (outputs, int(len(pairs)))
                if label is not None:
                    sizes[label] = int(len(pairs))
            notes = [note for step in steps for note in step.notes()]
            notes += _fault_notes(integrity, len(pool.shards)) + _duplicate_notes(pool, duplicates, dropped)
            if labeler is not None and hasattr(labeler, "degenerate"):
                notes += labeler.degenerate(dict(sizes))
            report = RunReport(rows=rows, counts=counts, notes=notes)
            listed = [{"uid": d.uid, "copies": [{"shard": pool.shards[s].name, "row": r + 1} for s, r in d.copies]} for d in duplicates[:LISTED_DUPLICATES]]
            for label in labels:
                outputs, samples = written[label]
                record = {
                    "pool": {"path": _recorded_path(pool.location, out_dir), "fingerprint": fingerprint, "shards": len(pool.shards), "rows": rows},
                    "chain": chain, "counts": counts, "excluded": excluded, "integrity": integrity,
                    "duplicates": {"rows": "1-based, within the shard", "uids": len(duplicates), "extra_copies": sum(len(d.copies) - 1 for d in duplicates), "excluded": dropped, "listed": listed},
                    "notes": [note.to_dict() for note in notes],
                    "bucket": label, "samples": samples, "sha256": outputs, **provenance,
                }
                manifest.write_sidecar(stage(f"{'' if label is None else label + '/'}manifest.json"), record)
                report.outputs[label or ""] = record
            previous = _listed_buckets(out_dir)
            if labels != [None]:  # the set of buckets, so a rerun with other edges can replace it as a whole
                manifest.write_sidecar(stage("manifest.json"), {"pool": record["pool"], "chain": chain, "counts": counts, "sha256": top, "buckets": [
                    {"name": label, "path": f"{label}/", "samples": written[label][1]} for label in labels]})
            io.publish_set(out_dir, staged)
        except BaseException:
            if not (out_dir / io.JOURNAL).exists():  # not yet published: the old set stays, the staged files go
                for path in staged.values():
                    path.unlink(missing_ok=True)
            raise
        for label in (labels if labels == [None] else [*labels, None]):  # an output of an earlier run that this set does not have
            folder = out_dir if label is None else out_dir / label
            for name in set(manifest.OUTPUT_NAMES) - set(written[label][0] if label in written else top) - {"manifest.json"}:
                (folder / name).unlink(missing_ok=True)
        for label in set(previous) - set(labels):  # buckets of the previous run's set (its own manifest.json) that this set replaces
            try:
                folder = target(out_dir, label)
            except CurascaleError:  # not a name this engine writes: leave it alone
                continue
            for name in manifest.OUTPUT_NAMES:
                (folder / name).unlink(missing_ok=True)
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        shutil.rmtree(work, ignore_errors=True)  # published: this run's work files are no longer needed to resume
        if (out_dir / WORK).is_dir() and not any((out_dir / WORK).iterdir()):
            (out_dir / WORK).rmdir()
        return report


def _listed_buckets(out_dir: Path) -> list[str]:
    """The buckets the top-level manifest.json of an earlier bucketize run into `out_dir` lists
    (none when there is no such manifest)."""
    try:
        record = json.loads((out_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return []
    buckets = record.get("buckets") if isinstance(record, dict) else None
    return [entry["name"] for entry in buckets if isinstance(entry, dict) and isinstance(entry.get("name"), str)] if isinstance(buckets, list) else []


def exclusion_table(uids, shard: str, rows: np.ndarray, steps: list, reasons: list) -> pa.Table:
    """exclusions.parquet's rows: uid, shard (file name), row (1-based), step, reason (the rule)."""
    schema = pa.schema([("uid", pa.string()), ("shard", pa.string()), pa.field("row", pa.int64(), metadata={"description": "1-based row within the shard"}),
                        ("step", pa.string()), ("reason", pa.string())])
    return pa.table({"uid": pa.array(uids, pa.string()), "shard": pa.array([shard] * len(rows), pa.string()), "row": pa.array(np.asarray(rows, dtype=np.int64) + 1),
                     "step": pa.array(steps, pa.string()), "reason": pa.array(reasons, pa.string())}, schema=schema)


def _later_copies(pool: Pool, work: Path, duplicates) -> dict[int, np.ndarray]:
    """Rows (0-based, per shard index) of the copies of a duplicated uid that passed every step
    but are not the first such copy in (shard, row) order: they leave the outputs."""
    if not duplicates:
        return {}
    wanted = {(int(d.pair[0]), int(d.pair[1])) for d in duplicates}
    high = np.fromiter((h for h, _ in wanted), dtype=np.uint64, count=len(wanted))
    seen, later = set(), {}
    for index, shard in enumerate(pool.shards):
        table = pq.read_table(work / f"{shard.stem}.parquet", columns=["uid_hi", "uid_lo", "row"])
        candidates = np.flatnonzero(np.isin(table.column("uid_hi").to_numpy(), high))
        if not candidates.size:
            continue
        found = sorted((int(table.column("row")[i].as_py()), (int(table.column("uid_hi")[i].as_py()), int(table.column("uid_lo")[i].as_py()))) for i in candidates)
        extra = []
        for row, pair in found:
            if pair in wanted:
                (extra.append(row) if pair in seen else seen.add(pair))
        if extra:
            later[index] = np.asarray(extra, dtype=np.int64)
    return later


def _duplicate_exclusions(pool: Pool, work: Path, later: dict[int, np.ndarray]) -> pa.Table:
    parts = []
    for index, rows in sorted(later.items()):
        pairs = np.load(work / f"{pool.shards[index].stem}.uids.npy")[rows]
        parts.append(exclusion_table([pair_to_uid(p) for p in pairs], pool.shards[index].name, rows, ["duplicates"] * len(rows), [DUPLICATE] * len(rows)))
    return pa.concat_tables(parts) if parts else exclusion_table([], "", np.empty(0, np.int64), [], [])


def _fault_notes(integrity: list[dict], shards: int) -> list[Note]:
    if not integrity:
        return []
    by_reason = Counter()
    for entry in integrity:
        by_reason[entry["reason"]] += entry["rows"]
    faulty = sorted({entry["shard"] for entry in integrity})
    summary = ", ".join(f"{reason}: {n:,}" for reason, n in sorted(by_reason.items()))
    return [Note("faulty-rows", f"{sum(by_reason.values()):,} rows in {len(faulty)} of {shards} shards have faulty data ({summary}); they are never kept "
                 "(per shard in manifest.json, 'integrity')", details={"rows": dict(by_reason), "shards": faulty[:LISTED_DUPLICATES]})]


def _duplicate_notes(pool: Pool, duplicates, dropped: int) -> list[Note]:
    if not duplicates:
        return []
    first = duplicates[0]
    where = " and ".join(f"{pool.shards[s].name} row {r + 1}" for s, r in first.copies)
    return [Note("duplicate-uids", f"{len(duplicates):,} uids appear more than once in the pool (first: {first.uid} at {where}); "
                 f"the outputs hold the first copy that passes every step ({dropped:,} later copies excluded; all listed in manifest.json)",
                 details={"uids": len(duplicates), "excluded": dropped})]
