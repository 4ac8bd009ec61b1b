"""The shipped reference fits are exactly what scaling.reference builds from LAWS.md constants."""

import json

import pytest

from scaling.reference import build_reference_fits, load_fit, shipped_fits_dir


def test_shipped_reference_fits_match_the_builder():
    built = build_reference_fits()
    shipped = sorted(p.stem for p in (shipped_fits_dir() / "reference").glob("*.json"))
    assert sorted(name.split("/")[1] for name in built) == shipped
    for name, fit in built.items():
        on_disk = json.loads((shipped_fits_dir() / f"{name}.json").read_text())
        assert on_disk == json.loads(json.dumps(fit.to_dict())), name
        assert load_fit(name).params == fit.params


# ---- the shipped constants against the papers' published values (LAWS.md), not the builder ----
def test_chinchilla_epoch_constants_are_besiroglu_et_al():
    """Besiroglu et al. 2024 (Epoch AI replication of Chinchilla Approach 3), LAWS.md §1."""
    params = load_fit("reference/chinchilla-epoch").params
    assert params == {"A": 482.01, "B": 2085.43, "E": 1.8172, "alpha": 0.3478, "beta": 0.3658}


def test_data_constrained_constants_are_muennighoff_et_al():
    """Muennighoff et al. 2023, LAWS.md §2: R*_D = 15.39, R*_N = 5.31, A = 520.8, B = 1487.7,
    E = 1.869, alpha = beta = 0.3527 (equal to the digits printed)."""
    params = load_fit("reference/data-constrained").params
    published = {"data_repetition_decay": (15.39, 0.005), "param_repetition_decay": (5.31, 0.005), "A": (520.8, 0.05),
                 "B": (1487.7, 0.05), "E": (1.869, 0.0005), "alpha": (0.3527, 0.00005), "beta": (0.3527, 0.00005)}
    assert set(params) == set(published)
    for name, (value, half_digit) in published.items():
        assert abs(params[name] - value) <= half_digit, (name, params[name], value)


# Goyal et al. 2024 (LAWS.md §3 table): T-MARS buckets of DataComp medium, ImageNet zero-shot error.
GOYAL_BUCKETS = ["tmars_top0to10p", "tmars_top10to20p", "tmars_top20to30p", "tmars_top30to40p", "tmars_top0to40p_random25p"]
GOYAL = {
    "tmars-imagenet-utility": (0.025, [-0.16, -0.125, -0.10, -0.085, -0.12], [6.7273, 8.5455, 5.2727, 2.2727, 6.0]),
    "tmars-imagenet-effective-data": (0.022, [-0.18227, -0.14485, -0.13530, -0.09758, -0.14197], [4.0, 4.3636, 2.9091, 1.4545, 3.4545]),
}


@pytest.mark.parametrize("name", list(GOYAL))
def test_tmars_constants_are_goyal_et_al(name):
    fit = load_fit(f"reference/{name}")
    scale, utilities, half_lives = GOYAL[name]
    expected = {"sample_scale": scale, "irreducible_error": 0.1}
    for bucket, utility, half_life in zip(GOYAL_BUCKETS, utilities, half_lives):
        expected[f"utility[{bucket}]"] = utility
        expected[f"utility_half_life[{bucket}]"] = half_life
    assert fit.params == expected
    assert fit.metadata["bucket_size_samples"] == {bucket: 12_800_000 for bucket in GOYAL_BUCKETS}
    assert fit.metadata["nested_buckets"] == GOYAL_BUCKETS[:4]
