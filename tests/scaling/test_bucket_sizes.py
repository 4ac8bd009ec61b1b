"""scaling.bucket_sizes: where a data plan's bucket sizes come from, never switched silently."""

import pytest

from curascale.errors import CurascaleError
from scaling.bucket_sizes import check_bucket_names, choose_bucket_sizes
from scaling.fit import Fit


def _fit(sizes):
    return Fit(law="data_filtering_utility", law_version="1", params={}, objective=0.0, n_points=0, starts=1, starts_at_best=1, converged=True,
               data_hash="", target="error", inputs=["samples_seen", "unique_samples"], groups=["hq", "lq", "mq"],
               metadata={"bucket_size_samples": sizes, "nested_buckets": ["hq", "mq", "lq"]})


def test_the_fits_sizes_are_kept_against_a_registered_pool_that_differs():
    """The trial's defect: a 20,000-row demo pool registered 2,000-sample buckets under the fit's
    names; the plan must stay on the fit's 12.8M and say so."""
    fit = _fit({"hq": 12.8e6, "mq": 12.8e6, "lq": 12.8e6})
    sizes, notes = choose_bucket_sizes(fit, registry=("demo", {"hq": 2000.0, "mq": 12.85e6, "lq": 2000.0}))
    assert sizes == {"hq": 12.8e6, "mq": 12.8e6, "lq": 12.8e6}
    differ, recorded = notes
    assert differ.code == "bucket-sizes-differ" and differ.severity == "warning"
    assert differ.details == {"pool": "demo", "fit": {"hq": 12.8e6, "lq": 12.8e6}, "registry": {"hq": 2000.0, "lq": 2000.0}}  # mq within 1%
    assert recorded.details == {"sizes": sizes, "sources": {"hq": "fit", "mq": "fit", "lq": "fit"}}


def test_the_registry_fills_only_the_sizes_the_fit_lacks_and_given_sizes_win():
    fit = _fit({"hq": 6.4e6})
    sizes, notes = choose_bucket_sizes(fit, registry=("pool_a", {"hq": 6.4e6, "mq": 3e6, "lq": 3e6}), given={"lq": 5e6})
    assert sizes == {"hq": 6.4e6, "mq": 3e6, "lq": 5e6}
    assert [n.code for n in notes] == ["bucket-sizes"]
    assert notes[0].details["sources"] == {"hq": "fit", "mq": "registry pool pool_a", "lq": "--bucket-sizes"}
    assert "hq 6.4e+06 (fit), mq 3e+06 (registry pool pool_a), lq 5e+06 (--bucket-sizes)" in notes[0].message


@pytest.mark.parametrize("name, hint", [("HQ", "did you mean hq?"), ("zz", "its buckets: hq, mq, lq\\)$")])
def test_an_unknown_bucket_name_is_an_error_with_a_near_miss(name, hint):
    with pytest.raises(CurascaleError, match=f"--bucket-sizes: no bucket '{name}' in the fit .*{hint}"):
        choose_bucket_sizes(_fit({}), given={"hq": 1e6, name: 5e6})


def test_a_pool_with_other_sizes_than_the_fits_is_refused_unless_forced():
    fit = _fit({"hq": 12.8e6, "mq": 12.8e6, "lq": 12.8e6})
    with pytest.raises(CurascaleError, match=r"pool p's bucket sizes differ from the fit's \(hq 1.28e\+07 vs 2000, mq 1.28e\+07 vs 2000, lq 1.28e\+07 vs 2000"):
        choose_bucket_sizes(fit, pool=("p", {"hq": 2000.0, "mq": 2000.0, "lq": 2000.0}))
    sizes, notes = choose_bucket_sizes(fit, pool=("p", {"hq": 2000.0, "mq": 2000.0, "lq": 2000.0}), force=True)
    assert sizes == {"hq": 2000.0, "mq": 2000.0, "lq": 2000.0} and [n.code for n in notes] == ["bucket-sizes-differ", "bucket-sizes"]
    same, _ = choose_bucket_sizes(fit, pool=("p", {"hq": 12.81e6, "mq": 12.8e6, "lq": 12.79e6}))  # rank rounding, within 1%
    assert same == {"hq": 12.81e6, "mq": 12.8e6, "lq": 12.79e6}


def test_check_bucket_names_accepts_the_fits_names():
    check_bucket_names(["hq", "lq"], {"hq": 1.0, "lq": 2.0})  # no error
    with pytest.raises(CurascaleError, match="did you mean lq"):
        check_bucket_names(["hq", "lq"], {"Lq": 1.0})
