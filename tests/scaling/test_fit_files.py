"""Fit artifacts and plots as files: written through curascale.io, NaN refused both ways."""

import json
import math
import os

import pandas as pd
import pytest

from curascale.errors import CurascaleError
from scaling.fit import Fit, non_finite_field
from scaling.reference import load_fit


def test_a_saved_fit_holding_nan_is_refused_at_load(tmp_path):
    record = load_fit("reference/chinchilla-epoch").to_dict()
    record["params"]["E"] = float("nan")
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(record))  # Python writes NaN, which is not JSON
    with pytest.raises(CurascaleError, match=r"nan.json: params.E is not finite"):
        Fit.load(path)
    record["params"]["E"] = 1.8172
    record["draws"] = [{"E": 1.8}, {"E": float("inf")}]
    path.write_text(json.dumps(record))
    with pytest.raises(CurascaleError, match=r"draws.1.E is not finite"):
        Fit.load(path)


def test_non_finite_field_names_the_first_bad_number():
    assert non_finite_field({"a": 1.0, "b": [2.0, {"c": math.nan}]}) == "b.1.c"
    assert non_finite_field({"a": 1.0, "b": None, "c": "nan"}) is None


def test_save_refuses_nan_and_writes_through_a_symlink(tmp_path):
    fit = load_fit("reference/chinchilla-epoch")
    (tmp_path / "real.json").write_text("{}")
    os.symlink("real.json", tmp_path / "link.json")
    fit.save(tmp_path / "link.json")
    assert (tmp_path / "link.json").is_symlink()
    assert Fit.load(tmp_path / "real.json").params == fit.params
    broken = Fit(**{**fit.__dict__, "params": {**fit.params, "A": float("nan")}})
    with pytest.raises(CurascaleError, match="params.A is not finite"):
        broken.save(tmp_path / "broken.json")
    assert not (tmp_path / "broken.json").exists()
    with pytest.raises(CurascaleError, match="is a directory"):
        fit.save(tmp_path)


def test_plots_are_written_through_curascale_io(tmp_path):
    from scaling.plots import plot_fit

    fit = load_fit("reference/chinchilla-epoch")
    frame = pd.DataFrame({"params": [1e8, 1e8, 1e9, 1e9], "tokens": [2e9, 4e9, 2e10, 4e10]})
    frame["loss"] = fit.predict(frame)
    (tmp_path / "real.png").write_bytes(b"old")
    os.symlink("real.png", tmp_path / "link.png")
    plot_fit(fit, frame, tmp_path / "link.png")
    assert (tmp_path / "link.png").is_symlink() and (tmp_path / "real.png").read_bytes()[:4] == b"\x89PNG"
    plot_fit(fit, frame, tmp_path / "figure.png")  # the format follows the name, not the temporary's
    assert (tmp_path / "figure.png").read_bytes()[:4] == b"\x89PNG"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left
    with pytest.raises(CurascaleError, match="is a directory|must end in"):  # refused either way, nothing written
        plot_fit(fit, frame, tmp_path)


def test_an_artifact_with_the_old_bucket_quantiles_key_reads_as_bucket_percentile_ranges(tmp_path):
    """Artifacts written before the rename stored the buckets' ranks as `bucket_quantiles`."""
    from scaling.plan import plan_data

    current = load_fit("reference/tmars-imagenet-utility")
    record = current.to_dict()
    ranges = record["metadata"].pop("bucket_percentile_ranges")
    assert ranges["tmars_top10to20p"] == [10, 20]  # the second 10% of the pool from the top
    record["metadata"]["bucket_quantiles"] = ranges
    path = tmp_path / "old.json"
    path.write_text(json.dumps(record))
    old = Fit.load(path)
    assert old.metadata == current.metadata and "bucket_quantiles" not in old.metadata
    assert [c.name for c in plan_data(old, 128e6).candidates] == [c.name for c in plan_data(current, 128e6).candidates]
    saved = json.loads(old.save(tmp_path / "again.json").read_text())["metadata"]
    assert saved["bucket_percentile_ranges"] == ranges and "bucket_quantiles" not in saved


def test_a_fit_keeps_its_runs_and_a_saved_fit_gives_them_back(tmp_path):
    """The points a fit was fitted on travel in its artifact (for the planner's figures); a
    grouped law's points carry the group's name."""
    from scaling.fit import fit
    from scaling.synthetic import grid_design, sample
    from scaling.laws import get_law

    truth = {"A": 482.01, "B": 2085.43, "E": 1.8172, "alpha": 0.3478, "beta": 0.3658}
    frame = sample(get_law("chinchilla"), truth, grid_design(params=[1e8, 1e9, 1e10], tokens=[2e9, 2e10, 2e11]), seed=1)
    fitted = fit("chinchilla", frame)
    assert fitted.points == {"params": frame["params"].tolist(), "tokens": frame["tokens"].tolist(), "loss": frame["loss"].tolist()}
    fitted.save(tmp_path / "fit.json")
    pd.testing.assert_frame_equal(Fit.load(tmp_path / "fit.json").points_frame(), frame[["params", "tokens", "loss"]])
    assert load_fit("reference/chinchilla-epoch").points_frame() is None


def test_a_grouped_fits_points_name_their_bucket():
    from scaling.laws import get_law
    from scaling.problem import Data

    frame = pd.DataFrame({"bucket": ["hq", "lq", "hq"], "samples_seen": [1e7, 2e7, 4e7], "unique_samples": [1e7, 1e7, 1e7], "error": [0.8, 0.9, 0.7]})
    columns = Data.from_frame(get_law("data_filtering_utility"), frame).columns()
    assert columns == {"samples_seen": [1e7, 2e7, 4e7], "unique_samples": [1e7, 1e7, 1e7], "bucket": ["hq", "lq", "hq"], "error": [0.8, 0.9, 0.7]}
