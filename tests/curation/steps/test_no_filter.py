"""DataComp's no_filter: every uid of the pool."""

import numpy as np

from curation.engines.local import LocalEngine
from curation.pool import Pool
from curation.steps import build_step
from datacomp_rules import read_pool, uid_set


def test_keeps_every_sample(edge_pool, tmp_path):
    report = LocalEngine(progress=False).run(Pool.open(edge_pool), [build_step({"step": "no_filter"})], tmp_path, subset_only=True)
    np.testing.assert_array_equal(np.load(tmp_path / "subset.npy"), uid_set(read_pool(edge_pool)["uid"]))
    assert report.counts == [{"step": "no_filter", "in": 3000, "out": 3000}]
