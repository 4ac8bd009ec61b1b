"""scaling.handoff: the chosen plan's sample list, cut from a pool with per-bucket repetitions."""

import json

import numpy as np
import pyarrow.parquet as pq

from curation.demo import write_demo_pool
from curation.engines.local import LocalEngine
from curation.pool import Pool
from curation.steps.clip_score import ClipScore
from scaling.handoff import export_plan_manifest
from scaling.plan import plan_data
from scaling.reference import load_fit


def test_plan_manifest_is_the_plans_union_with_repetition_weights(tmp_path):
    pool = tmp_path / "pool"
    write_demo_pool(pool, 10_000, shards=3, seed=11)
    fit = load_fit("reference/tmars-imagenet-utility")
    plan = plan_data(fit, 128e6)  # top20: the two best buckets, five passes each
    export_plan_manifest(plan, fit, pool, tmp_path / "plan", score_column="clip_l14_similarity_score", workers=1)
    subset = np.load(tmp_path / "plan" / "subset.npy")
    LocalEngine(progress=False).run(Pool.open(pool), [ClipScore(arch="l14", fraction=0.2)], tmp_path / "top20")
    np.testing.assert_array_equal(subset, np.load(tmp_path / "top20" / "subset.npy"))
    manifest = pq.read_table(tmp_path / "plan" / "manifest.parquet").to_pandas()
    assert set(manifest["bucket"]) == {"tmars_top0to10p", "tmars_top10to20p"}
    assert (manifest["repetition_weight"] == 5.0).all()
    sidecar = json.loads((tmp_path / "plan" / "manifest.json").read_text())
    assert sidecar["plan"]["best"]["name"] == "top20" and sidecar["fit"]["source"] == "reference/tmars-imagenet-utility"


def test_a_mixture_plan_weights_each_bucket_by_its_own_repetitions(tmp_path):
    pool = tmp_path / "pool"
    write_demo_pool(pool, 10_000, shards=2, seed=12)
    fit = load_fit("reference/tmars-imagenet-utility")
    plan = plan_data(fit, 128e6, mixtures=True)
    assert plan.best == "mixture"
    export_plan_manifest(plan, fit, pool, tmp_path / "plan", score_column="clip_l14_similarity_score", workers=1)
    chosen = next(c for c in plan.candidates if c.name == "mixture")
    manifest = pq.read_table(tmp_path / "plan" / "manifest.parquet").to_pandas()
    weights = manifest.groupby("bucket")["repetition_weight"].unique().to_dict()
    assert {bucket: list(values) for bucket, values in weights.items()} == {b: [chosen.repetitions[b]] for b in chosen.buckets}
    assert chosen.repetitions["tmars_top0to10p"] == 128e6 * chosen.shares[0] / 12.8e6
