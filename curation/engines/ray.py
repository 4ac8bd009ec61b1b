"""The Ray Data engine for image stages, for pools past one machine: the same steps, unchanged.

Each shard is read into chunks of `batch_size` samples (`curation.webdataset.chunks`, as the local
engine does); a dataset row carries one chunk (pickled), so every step sees exactly the batches it
sees locally and scores are identical. Each step is one `map_batches` stage: heavy steps (a text
detector, a CLIP model) run in an actor pool, so each worker loads its model once, with
`num_gpus` per actor for the steps that use a GPU; light steps run as tasks. The driver gathers
the chunks of each shard as they stream back and writes the shard as soon as it is complete
(`ImageStage.write_shard`): a killed run resumes from the finished shards, like the local engine.

Parquet pipelines (`run`: every filter and labeler step) run each shard as one Ray task doing
exactly what the local engine does for it (`LocalEngine._shard`), after the same prepare passes
on the driver; the driver then writes the outputs as the local engine does, so the bytes are the
same. The tasks write their per-shard results under OUT_DIR/.curascale-work/, which every node
must see (a local Ray, or a shared filesystem on a cluster).

`address` joins an existing cluster (`ray start --head` elsewhere, or "auto"); without it a local
Ray instance starts with `num_cpus` CPUs.
"""

from __future__ import annotations

import pickle
from collections import defaultdict
from pathlib import Path

from curation.images import ImageStage
from curation.steps.base import ImageStep


class _Read:
    """Shard path -> one row per chunk (a shard without samples: one row with an empty chunk)."""

    def __init__(self, batch_size: int):
        self.batch_size = batch_size

    def __call__(self, row: dict) -> list[dict]:
        from curation.webdataset import chunks, read_shard

        samples = read_shard(row["shard"])
        parts = chunks(samples.columns, self.batch_size) or [None]
        errors = pickle.dumps(samples.errors)
        return [{"shard": row["shard"], "chunk": i, "chunks": len(parts), "errors": errors if i == 0 else b"", "payload": pickle.dumps(part)} for i, part in enumerate(parts)]


class _Apply:
    """One step over the chunk rows of a batch; a class, so Ray keeps it in an actor."""

    def __init__(self, step: ImageStep, threads: int | None = None):
        self.step = step
        self.step.setup(threads)

    def __call__(self, batch: dict) -> dict:
        payloads = []
        for payload in batch["payload"]:
            chunk = pickle.loads(payload)
            payloads.append(pickle.dumps(None if chunk is None else self.step(chunk)))
        return {**batch, "payload": payloads}


def _call(work, shard):
    return work(shard)


class _RayShards:
    """The local engine's parquet run with its shards mapped onto Ray tasks."""

    def __init__(self, cpus_per_task: float, progress: bool):
        from curation.engines.local import LocalEngine

        class Engine(LocalEngine):
            def map_shards(self, work, shards):
                import ray

                task = ray.remote(num_cpus=cpus_per_task)(_call)
                work_ref = ray.put(work)
                for ref in [task.remote(work_ref, shard) for shard in shards]:
                    yield ray.get(ref)

        self.engine = Engine(progress=progress)


class RayEngine:
    def __init__(self, *, address: str | None = None, num_cpus: int | None = None, actors: int = 1, cpus_per_actor: float = 1.0, cpus_per_task: float = 0.25, num_gpus: float = 0.0, progress: bool = True):
        """`actors`: workers per heavy step; `cpus_per_actor`, `num_gpus`: what each reserves;
        `cpus_per_task`: what reading and the light steps reserve (small, so that actor pools
        that fill the cluster cannot starve them)."""
        self.address = address
        self.cpus_per_task = cpus_per_task
        self.num_cpus = num_cpus
        self.actors = actors
        self.cpus_per_actor = cpus_per_actor
        self.num_gpus = num_gpus
        self.progress = progress

    def _init(self) -> None:
        import ray

        if not ray.is_initialized():
            options = {"address": self.address} if self.address else {"num_cpus": self.num_cpus}
            ray.init(**options, include_dashboard=False, log_to_driver=False, configure_logging=False)
        ray.data.DataContext.get_current().enable_progress_bars = self.progress

    def actor_cpus(self, stage: ImageStage, cluster_cpus: float) -> float:
        """CPUs per actor: `cpus_per_actor`, scaled down when the actor pools would otherwise
        take every CPU and starve the reading and light tasks (which then never run)."""
        heavy = sum(step.heavy for step in stage.steps) * self.actors
        tasks = self.cpus_per_task * (1 + sum(not step.heavy for step in stage.steps))
        if heavy == 0 or heavy * self.cpus_per_actor + tasks <= cluster_cpus:
            return self.cpus_per_actor
        return max(0.05, (cluster_cpus - tasks) / heavy)

    def dataset(self, stage: ImageStage, shards: list[Path]):
        import ray

        cpus = self.actor_cpus(stage, float(ray.cluster_resources().get("CPU", 1.0)))
        data = ray.data.from_items([{"shard": str(p)} for p in shards], override_num_blocks=len(shards))
        data = data.flat_map(_Read(stage.batch_size), num_cpus=self.cpus_per_task)
        for step in stage.steps:
            if step.heavy:
                gpus = self.num_gpus if step.uses_gpu else 0
                pool = ray.data.ActorPoolStrategy(size=self.actors)
                data = data.map_batches(_Apply, fn_constructor_kwargs={"step": step, "threads": max(1, int(cpus))}, batch_size=1, compute=pool, num_cpus=cpus, num_gpus=gpus)
            else:
                data = data.map_batches(_Apply(step), batch_size=1, num_cpus=self.cpus_per_task)  # an instance: a task
        return data

    def run(self, pool, steps, out_dir, **options):
        """`LocalEngine.run` (same arguments, same outputs) with each shard a Ray task."""
        self._init()
        return _RayShards(self.cpus_per_task, self.progress).engine.run(pool, steps, out_dir, **options)

    def run_images(self, stage: ImageStage) -> int:
        """Run an image stage over its pending shards; returns how many shards an earlier run
        had finished."""
        pending = stage.pending()
        if not pending:
            return len(stage.shards)
        self._init()
        arrived: dict[str, dict[int, dict]] = defaultdict(dict)
        for row in self.dataset(stage, pending).iter_rows():
            parts = arrived[row["shard"]]
            parts[int(row["chunk"])] = row
            if len(parts) == int(row["chunks"]):
                ordered = [parts[i] for i in range(len(parts))]
                processed = [chunk for chunk in (pickle.loads(r["payload"]) for r in ordered) if chunk is not None]
                stage.write_shard(Path(row["shard"]), pickle.loads(ordered[0]["errors"]), processed)
                del arrived[row["shard"]]
        return len(stage.shards) - len(pending)
