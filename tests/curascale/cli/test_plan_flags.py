"""`plan-curation` flags through the CLI: --plot, --sweep --plot, --export-manifest/--pool/--score-column,
--params, --domain-tokens (the precision flags are left to the precision law's own tests)."""

import json

import numpy as np
import pandas as pd
import pytest

from cli import curascale, run
from curation.pool import pair_to_uid

PNG = b"\x89PNG\r\n\x1a\n"


def test_plot_and_sweep_plot(tmp_path):
    run("plan-curation", "--compute", "128M", "--plot", tmp_path / "plan.png")
    run("plan-curation", "--compute", "128M", "--sweep", "12.8M:1.28B", "--sweep-points", "5", "--plot", tmp_path / "sweep.png")
    for name in ("plan.png", "sweep.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == PNG and len(data) > 5000


def test_export_manifest_cuts_the_plans_buckets_from_the_pool(tmp_path):
    """The plan is made on the pool's own bucket sizes (300 samples per 10% bucket of a 3,000-row
    pool), so the manifest's samples seen equal the budget; every bucket is the pool's 10% slice
    by rank of the score. The reference law does not hold this far below its fit points (25.6M to
    128M samples seen): the plan says so with an error-severity note."""
    curascale("curate", "demo-pool", tmp_path / "pool", "--rows", "3000", "--shards", "2", "--seed", "2")
    frame = pd.concat([pd.read_parquet(p) for p in sorted((tmp_path / "pool").glob("*.parquet"))], ignore_index=True)
    refused = run("plan-curation", "--compute", "3000", "--export-manifest", tmp_path / "refused", "--pool", tmp_path / "pool",
                  "--score-column", "clip_b32_similarity_score", "--json", check=False)
    assert refused.returncode == 2 and not (tmp_path / "refused").exists()
    assert "bucket sizes differ from the fit's (tmars_top0to10p 1.28e+07 vs 300" in refused.stderr  # 10% of 3,000 rows
    result = run("plan-curation", "--compute", "3000", "--export-manifest", tmp_path / "plan", "--pool", tmp_path / "pool",
                 "--score-column", "clip_b32_similarity_score", "--json", "--force")
    plan = json.loads(result.stdout)
    assert {n["code"] for n in plan["notes"]} >= {"out-of-physical-range", "extrapolation", "bucket-sizes-differ"}
    best = next(c for c in plan["candidates"] if c["name"] == plan["best"])
    scores = frame["clip_b32_similarity_score"].to_numpy()
    ranked = np.sort(scores)[::-1]
    quantiles = {"tmars_top0to10p": (0, 10), "tmars_top10to20p": (10, 20), "tmars_top20to30p": (20, 30), "tmars_top30to40p": (30, 40)}
    expected = {}
    for bucket in best["buckets"]:
        lo, hi = quantiles[bucket]
        upper = np.inf if lo == 0 else ranked[int(3000 * lo / 100)]
        expected[bucket] = set(frame.loc[(scores >= ranked[int(3000 * hi / 100)]) & (scores < upper), "uid"])
    assert {pair_to_uid(p) for p in np.load(tmp_path / "plan" / "subset.npy")} == set().union(*expected.values())
    manifest = pd.read_parquet(tmp_path / "plan" / "manifest.parquet")
    for bucket, uids in expected.items():
        assert set(manifest.loc[manifest["bucket"] == bucket, "uid"]) == uids
    passes = 3000 / (len(best["buckets"]) * 300)
    np.testing.assert_allclose(manifest["repetition_weight"].to_numpy(), passes, rtol=0.02)
    assert abs(manifest["repetition_weight"].sum() - 3000) <= len(best["buckets"]) * passes  # within one epoch's rounding
    sidecar = json.loads((tmp_path / "plan" / "manifest.json").read_text())
    assert sidecar["plan"]["best"]["name"] == plan["best"] and sidecar["samples"] == len(manifest)


def test_params_fixes_the_model_size(tmp_path):
    import dataclasses

    from scaling.reference import load_fit

    # a Chinchilla fit of the user's own (the shipped constants under another name) decides N and D alone, at bf16
    own = dataclasses.replace(load_fit("reference/chinchilla-epoch"), source="mine").save(tmp_path / "mine.json")
    plan = json.loads(run("plan-curation", "--compute", "1e21", "--unit", "flops", "--fits", str(own), "--params", "1e9", "--json").stdout)
    tokens = 1e21 / 6e9
    assert plan["params"] == 1e9 and plan["tokens"] == pytest.approx(tokens, rel=1e-12)
    assert plan["loss"] == pytest.approx(1.8172 + 482.01 / 1e9**0.3478 + 2085.43 / tokens**0.3658, rel=1e-12)


def test_domain_tokens(tmp_path):
    from scaling.fit import Fit
    from scaling.laws import get_law
    from scaling.plan import plan_model
    from scaling.reference import load_fit

    fits = {
        "specialized_domain": {"E": 1.5, "A": 300.0, "alpha": 0.34, "B": 800.0, "beta": 0.3, "repetition_decay": 15.0, "overfit_scale": 0.02, "overfit_exponent": 1.5},
        "specialized_general": {"E": 1.7, "A": 400.0, "alpha": 0.34, "B": 1500.0, "beta": 0.33},
    }
    paths = []
    for law, params in fits.items():
        spec = get_law(law)
        fit = Fit(law=law, law_version=spec.version, params=params, objective=0.0, n_points=0, starts=0, starts_at_best=0, converged=True,
                  data_hash="", target=spec.target, inputs=list(spec.inputs), source=law)
        paths += ["--fits", fit.save(tmp_path / f"{law}.json")]
    plan = json.loads(run("plan-curation", "--compute", "1e21", "--unit", "flops", "--fits", "reference/chinchilla-epoch", *paths,
                          "--domain-tokens", "1B", "--json").stdout)
    s = plan["specialized"]
    assert s["repetitions"] == pytest.approx(s["domain_fraction"] * plan["tokens"] / 1e9, rel=1e-12)
    assert 0 < s["domain_fraction"] <= 0.5 and round(s["domain_fraction"] * 1000) == pytest.approx(s["domain_fraction"] * 1000, abs=1e-9)
    library = plan_model(1e21, [load_fit("reference/chinchilla-epoch"), *(Fit.load(tmp_path / f"{law}.json") for law in fits)], domain_tokens=1e9)
    assert s == pytest.approx(library.specialized, rel=1e-12)
