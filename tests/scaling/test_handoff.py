"""scaling.handoff: the chosen plan's sample list, cut from a pool with per-bucket repetitions,
planned on the pool's own bucket sizes so the manifest's samples seen are the budget."""

import json

import numpy as np
import pyarrow.parquet as pq

from curation.demo import write_demo_pool
from curation.engines.local import LocalEngine
from curation.pool import Pool
from curation.steps.clip_score import ClipScore
import pytest

from curascale.errors import CurascaleError
from scaling.handoff import export_plan_manifest, pool_bucket_sizes
from scaling.plan import plan_data
from scaling.reference import load_fit


def _samples_seen(manifest):
    per_bucket = manifest.groupby("bucket")
    return float((per_bucket["repetition_weight"].first() * per_bucket.size()).sum())


def test_plan_manifest_is_the_plans_union_with_repetition_weights(tmp_path):
    pool = tmp_path / "pool"
    write_demo_pool(pool, 10_000, shards=3, seed=11)
    fit = load_fit("reference/tmars-imagenet-utility")
    sizes = pool_bucket_sizes(fit, pool)
    assert sizes == {b: 1000.0 for b in ("tmars_top0to10p", "tmars_top10to20p", "tmars_top20to30p", "tmars_top30to40p")}
    # top40 on this small pool: four buckets, 2.5 passes each; the reference law does not hold this
    # far below its runs (errors above 1, so the plan refuses unless forced): the cut is what is tested
    plan = plan_data(fit, 10_000, bucket_sizes=sizes, force=True)
    assert plan.best == "top40"
    export_plan_manifest(plan, fit, pool, tmp_path / "plan", score_column="clip_l14_similarity_score", workers=1)
    subset = np.load(tmp_path / "plan" / "subset.npy")
    LocalEngine(progress=False).run(Pool.open(pool), [ClipScore(arch="l14", fraction=0.4)], tmp_path / "top40")
    np.testing.assert_array_equal(subset, np.load(tmp_path / "top40" / "subset.npy"))
    manifest = pq.read_table(tmp_path / "plan" / "manifest.parquet").to_pandas()
    assert set(manifest["bucket"]) == set(sizes)
    assert (manifest["repetition_weight"] == 10_000 / 4 / 1000).all()
    assert abs(_samples_seen(manifest) - 10_000) <= 1000  # one epoch's rounding at most
    sidecar = json.loads((tmp_path / "plan" / "manifest.json").read_text())
    assert sidecar["plan"]["best"]["name"] == "top40" and sidecar["fit"]["source"] == "reference/tmars-imagenet-utility"
    assert sidecar["plan"]["bucket_size_samples"] == sizes


def test_a_plan_for_other_bucket_sizes_than_the_pools_is_refused(tmp_path):
    """The observed defect: a 128M-sample plan for 12.8M-sample buckets cut from a 10k-row pool
    wrote 2,000 samples x 5 passes = 10k samples seen, silently."""
    pool = tmp_path / "pool"
    write_demo_pool(pool, 10_000, shards=1, seed=11)
    fit = load_fit("reference/tmars-imagenet-utility")
    with pytest.raises(CurascaleError, match=r"tmars_top0to10p 1.28e\+07 vs 1000"):
        export_plan_manifest(plan_data(fit, 128e6), fit, pool, tmp_path / "plan", workers=1)
    assert not (tmp_path / "plan").exists()


def test_a_mixture_plan_weights_each_bucket_by_its_own_repetitions(tmp_path):
    pool = tmp_path / "pool"
    write_demo_pool(pool, 10_000, shards=2, seed=12)
    fit = load_fit("reference/tmars-imagenet-utility")
    plan = plan_data(fit, 20_000, bucket_sizes=pool_bucket_sizes(fit, pool), mixtures=True, force=True)  # errors above 1, as above
    assert plan.best == "mixture"
    export_plan_manifest(plan, fit, pool, tmp_path / "plan", score_column="clip_l14_similarity_score", workers=1)
    chosen = next(c for c in plan.candidates if c.name == "mixture")
    manifest = pq.read_table(tmp_path / "plan" / "manifest.parquet").to_pandas()
    weights = manifest.groupby("bucket")["repetition_weight"].unique().to_dict()
    assert {bucket: list(values) for bucket, values in weights.items()} == {b: [chosen.repetitions[b]] for b in chosen.buckets}
    assert chosen.repetitions["tmars_top0to10p"] == 20_000 * chosen.shares[0] / 1000
    assert abs(_samples_seen(manifest) - 20_000) <= 1000
