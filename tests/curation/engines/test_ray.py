"""The Ray engine runs the same T-MARS steps as the local engine, to the same bytes."""

import pytest

pytest.importorskip("ray")
pytest.importorskip("open_clip")

from curation.engines.ray import RayEngine  # noqa: E402
from curation.tmars import TmarsOptions, run_tmars  # noqa: E402

OPTIONS = TmarsOptions(clip_model="curascale-tiny-clip", pretrained=None, device="cpu", text_match=0.5)


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    yield RayEngine(num_cpus=2, cpus_per_actor=0.5, progress=False)
    ray.shutdown()


def test_ray_and_local_engines_give_identical_scores_and_manifests(image_shards, tmp_path, ray_cluster):
    local = run_tmars(image_shards, tmp_path / "local", options=OPTIONS, batch_size=4, workers=2, progress=False)
    remote = run_tmars(image_shards, tmp_path / "ray", options=OPTIONS, batch_size=4, engine=ray_cluster, progress=False)
    assert local.counts == remote.counts and remote.outputs[""]["images"]["unreadable_count"] == 2
    names = [f"scores/{shard.stem}.parquet" for shard in sorted(image_shards.glob("*.tar"))]
    for name in (*names, "subset.npy", "manifest.parquet", "manifest.json"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    again = run_tmars(image_shards, tmp_path / "ray", options=OPTIONS, batch_size=4, engine=ray_cluster, progress=False)
    assert again.resumed_shards == 3  # every shard done: Ray is not asked again


def test_actor_cpus_leave_room_for_the_tasks():
    from curation.tmars import image_steps

    class Stage:  # actor_cpus reads only the steps
        steps = image_steps(OPTIONS)

    engine = RayEngine(actors=1, cpus_per_actor=1.0, cpus_per_task=0.25)
    heavy = sum(step.heavy for step in Stage.steps)
    light = len(Stage.steps) - heavy
    assert engine.actor_cpus(Stage, 16.0) == 1.0
    squeezed = engine.actor_cpus(Stage, 2.0)
    assert heavy * squeezed + 0.25 * (1 + light) == pytest.approx(2.0)
