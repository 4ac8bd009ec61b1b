"""The image stage of a pipeline: run image steps over WebDataset shards, one scores table per
shard, with per-shard resume. Engines (local threads, Ray Data) only decide where chunks run; this
module decides what a shard's result is, so every engine writes the same bytes.

Work files live in OUT_DIR/.curascale-work/<key>/ (the key hashes the shards' names and sizes and
the step chain): `<shard>.parquet` (the readable samples: uid, url, text, key, the carried and new
scores, text boxes) and `<shard>.done.json` (counts and the unreadable samples). `publish` copies
the results to OUT_DIR/scores/, a folder of parquet shards that is itself a pool for the
score filters and `curate bucketize`.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pyarrow as pa

from curation import manifest
from curation.out_dir import WORK
from curation.steps.base import Batch, ImageStep
from curation.webdataset import CARRIED_SCORES, ShardSamples, chunks
BASE = {"uid": pa.string(), "url": pa.string(), "text": pa.string(), "shard": pa.string(), "key": pa.string()}


def apply(steps: Sequence[ImageStep], batch: Batch) -> Batch:
    for step in steps:
        batch = step(batch)
    return batch


@dataclass
class ImageStage:
    shards: list[Path]
    steps: list[ImageStep]
    out_dir: Path
    batch_size: int = 32

    def __post_init__(self):
        self.out_dir = Path(self.out_dir)
        stored = {name: kind for step in self.steps for name, kind in step.outputs().items() if kind is not None}
        self.schema = pa.schema([*BASE.items(), *((c, pa.float64()) for c in CARRIED_SCORES), *stored.items()])
        identity = {"shards": [(p.name, p.stat().st_size) for p in self.shards], "chain": self.chain(), "batch_size": self.batch_size}
        self.key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]
        self.work = self.out_dir / WORK / self.key

    def chain(self) -> list[dict]:
        return [step.describe() for step in self.steps]

    def pending(self) -> list[Path]:
        return [p for p in self.shards if not (self.work / f"{p.stem}.done.json").exists()]

    def chunks(self, samples: ShardSamples) -> list[Batch]:
        return chunks(samples.columns, self.batch_size)

    def setup_copy(self, threads: int | None = None) -> list[ImageStep]:
        """A fresh copy of the steps with their models loaded: one per worker, which may use
        `threads` CPU threads."""
        steps = copy.deepcopy(self.steps)
        for step in steps:
            step.setup(threads)
        return steps

    def write_shard(self, path: Path, read_errors: list[dict], processed: list[Batch]) -> None:
        """Store one shard's processed chunks (in chunk order) and its unreadable samples (those
        `read_shard` reported, then those a step marked), and mark the shard done."""
        columns = {name: [v for batch in processed for v in batch.get(name, [])] for name in self.schema.names}
        flags = [v for batch in processed for v in batch.get("error") or [None] * len(batch["key"])]
        good = [i for i, error in enumerate(flags) if error is None]
        errors = list(read_errors) + [{"shard": path.name, "key": columns["key"][i], "uid": columns["uid"][i], "error": flags[i]} for i, error in enumerate(flags) if error is not None]
        table = pa.table({name: pa.array([columns[name][i] for i in good], type=kind) for name, kind in zip(self.schema.names, self.schema.types)}, schema=self.schema)
        self.work.mkdir(parents=True, exist_ok=True)
        manifest.write_parquet(self.work / f"{path.stem}.parquet", [table], self.schema)
        record = {"samples": len(flags) + sum(e["key"] is not None for e in read_errors), "scored": table.num_rows, "unreadable": errors}
        manifest.atomic_write(self.work / f"{path.stem}.done.json", json.dumps(record, sort_keys=True).encode())

    def publish(self) -> dict:
        """Copy every shard's scores to OUT_DIR/scores/ and return the stage's summary."""
        scores = self.out_dir / "scores"
        samples, scored, unreadable = 0, 0, []
        for path in self.shards:
            manifest.atomic_write(scores / f"{path.stem}.parquet", (self.work / f"{path.stem}.parquet").read_bytes())
            record = json.loads((self.work / f"{path.stem}.done.json").read_text())
            samples += record["samples"]
            scored += record["scored"]
            unreadable += record["unreadable"]
        return {"shards": [p.name for p in self.shards], "samples": samples, "scored": scored, "unreadable_count": len(unreadable), "unreadable": unreadable, "chain": self.chain(), "batch_size": self.batch_size}




def run_with_images(shards_dir: str | Path, image_steps: Sequence[ImageStep], table_steps: list, out_dir: str | Path, *, local, engine=None,
                    batch_size: int = 32, exclusions: bool = False, on_duplicate: str = "keep-first"):
    """An image stage over WebDataset shards (run by `engine`, default the `local` engine), its
    scores published to OUT_DIR/scores/, then `table_steps` over those scores by the local engine;
    returns that run's RunReport, whose sidecar holds the image stage under "images". The output
    folder is claimed (locked) for the whole run."""
    from curation.out_dir import claim
    from curation.pool import Pool
    from curation.webdataset import shard_paths

    with claim(out_dir, pool=shards_dir) as out_dir:  # a URL: a local staging folder, published when the run succeeds
        stage = ImageStage(shard_paths(shards_dir), list(image_steps), out_dir, batch_size=batch_size)
        resumed = (engine or local).run_images(stage)
        summary = stage.publish()
        report = local.run(Pool.open(out_dir / "scores"), table_steps, out_dir, exclusions=exclusions, on_duplicate=on_duplicate,
                           provenance={"images": {"source": str(shards_dir), **summary}})
    report.resumed_shards = resumed
    return report
