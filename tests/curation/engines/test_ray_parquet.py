"""The Ray engine runs every parquet step (each DataComp baseline, the score filters, buckets)
to the same output bytes as the local engine, on a local Ray."""

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")
pytest.importorskip("faiss")

from curation.demo import write_demo_pool  # noqa: E402
from curation.engines.local import LocalEngine  # noqa: E402
from curation.engines.ray import RayEngine  # noqa: E402
from curation.pool import Pool  # noqa: E402
from curation.steps import build_step  # noqa: E402

HAS_WORDNET = Path("/usr/share/wordnet/index.noun").exists()


@pytest.fixture(scope="module")
def ray_engine():
    import ray

    yield RayEngine(num_cpus=2, progress=False)
    ray.shutdown()


def chains(targets: str):
    yield [{"step": "no_filter"}]
    yield [{"step": "basic"}, {"step": "clip_score", "arch": "l14", "fraction": 0.3}]
    yield [{"step": "laion2b"}]
    if HAS_WORDNET:
        yield [{"step": "text_based"}]
    yield [{"step": "image_based_clip_score", "targets": targets, "clusters": 12, "arch": "b32", "threshold": 0.28}]
    yield [{"step": "bucketize", "by": "clip_b32_similarity_score", "edges": [0, 20, 50]}]


def outputs(out: Path) -> dict[str, bytes]:
    found = {}
    for path in sorted(out.rglob("*")):
        if path.is_file() and ".curascale-work" not in path.parts:
            data = path.read_bytes()
            if path.name == "manifest.json":  # the sidecar: everything but when and where it was written
                record = json.loads(data)
                data = json.dumps({k: v for k, v in record.items() if k in ("chain", "counts", "samples", "sha256", "bucket")}, sort_keys=True).encode()
            found[str(path.relative_to(out))] = data
    return found


def test_every_parquet_step_gives_the_local_bytes(tmp_path, ray_engine):
    write_demo_pool(tmp_path / "pool", 1200, shards=3, with_npz=True, seed=8)
    np.save(tmp_path / "targets.npy", np.load(tmp_path / "pool" / "00000002.npz")["l14_img"][:10])
    for index, chain in enumerate(chains(str(tmp_path / "targets.npy"))):
        local = LocalEngine(progress=False).run(Pool.open(tmp_path / "pool"), [build_step(dict(e)) for e in chain], tmp_path / f"local{index}", exclusions=True)
        remote = ray_engine.run(Pool.open(tmp_path / "pool"), [build_step(dict(e)) for e in chain], tmp_path / f"ray{index}", exclusions=True)
        assert remote.counts == local.counts, chain
        here, there = outputs(tmp_path / f"local{index}"), outputs(tmp_path / f"ray{index}")
        assert sorted(here) == sorted(there) and "subset.npy" in "".join(here), chain
        for name in here:
            assert here[name] == there[name], (chain, name)
