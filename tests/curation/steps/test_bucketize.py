"""Quality buckets: disjoint, the requested shares, cut with the fraction filter's rule."""

import json

import numpy as np

from curation.engines.local import LocalEngine
from curation.pool import Pool
from curation.steps.bucketize import Bucketize
from curation.steps.clip_score import ClipScore


def test_buckets_are_disjoint_slices_by_percentile(demo_pool, tmp_path):
    step = Bucketize(score_column="clip_l14_similarity_score", edges=(0, 10, 20, 30, 40))
    report = LocalEngine(progress=False).run(Pool.open(demo_pool), [step], tmp_path / "buckets")
    subsets = {name: np.load(tmp_path / "buckets" / name / "subset.npy") for name in step.buckets}
    assert list(subsets) == ["top0to10p", "top10to20p", "top20to30p", "top30to40p"]
    everything = np.concatenate(list(subsets.values()))
    assert len(np.unique(everything)) == len(everything)
    for subset in subsets.values():
        assert abs(len(subset) - 2000) <= 5
    # the union of the top buckets is exactly the CLIP-score fraction filter's subset
    LocalEngine(progress=False).run(Pool.open(demo_pool), [ClipScore(arch="l14", fraction=0.2)], tmp_path / "top20")
    union = np.sort(np.concatenate([subsets["top0to10p"], subsets["top10to20p"]]))
    np.testing.assert_array_equal(union, np.load(tmp_path / "top20" / "subset.npy"))
    sidecar = json.loads((tmp_path / "buckets" / "top10to20p" / "manifest.json").read_text())
    assert sidecar["bucket"] == "top10to20p" and sidecar["samples"] == len(subsets["top10to20p"])
    assert report.outputs["top0to10p"]["samples"] == len(subsets["top0to10p"])
