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
    """At 128M samples the reference plan is top20 (two 10% buckets, 5 passes each: 128M / 2 / 12.8M)."""
    curascale("curate", "demo-pool", tmp_path / "pool", "--rows", "3000", "--shards", "2", "--seed", "2")
    frame = pd.concat([pd.read_parquet(p) for p in sorted((tmp_path / "pool").glob("*.parquet"))], ignore_index=True)
    result = run("plan-curation", "--compute", "128M", "--export-manifest", tmp_path / "plan", "--pool", tmp_path / "pool",
                 "--score-column", "clip_b32_similarity_score", "--json")
    assert json.loads(result.stdout)["best"] == "top20"
    scores = frame["clip_b32_similarity_score"].to_numpy()
    ranked = np.sort(scores)[::-1]
    t10, t20 = ranked[int(3000 * 0.1)], ranked[int(3000 * 0.2)]
    expected = {"tmars_top0to10p": set(frame.loc[scores >= t10, "uid"]), "tmars_top10to20p": set(frame.loc[(scores >= t20) & (scores < t10), "uid"])}
    assert {pair_to_uid(p) for p in np.load(tmp_path / "plan" / "subset.npy")} == expected["tmars_top0to10p"] | expected["tmars_top10to20p"]
    manifest = pd.read_parquet(tmp_path / "plan" / "manifest.parquet")
    for bucket, uids in expected.items():
        assert set(manifest.loc[manifest["bucket"] == bucket, "uid"]) == uids
    np.testing.assert_array_equal(manifest["repetition_weight"].to_numpy(), np.full(len(manifest), 5.0))
    sidecar = json.loads((tmp_path / "plan" / "manifest.json").read_text())
    assert sidecar["plan"]["best"]["name"] == "top20" and sidecar["samples"] == len(manifest)


def test_params_fixes_the_model_size():
    plan = json.loads(run("plan-curation", "--compute", "1e21", "--unit", "flops", "--fits", "reference/chinchilla-epoch", "--params", "1e9", "--json").stdout)
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
