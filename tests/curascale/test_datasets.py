"""The public run data shipped inside the package: counts and values from each PROVENANCE.txt."""

import fnmatch
import tomllib

import numpy as np
import pandas as pd
import pytest

import curascale as cs
from curascale.datasets import DATASETS, data_root, provenance
from curascale.errors import CurascaleError
from paths import ROOT


def test_chinchilla_frame_has_unit_named_columns_and_epoch_subset():
    runs = cs.load_dataset("chinchilla")
    assert list(runs.columns) == ["params", "tokens", "flops", "loss", "in_besiroglu_fit"]
    assert len(runs) == 245 and int(runs.in_besiroglu_fit.sum()) == 240  # PROVENANCE: 5 highest losses dropped
    # first row of Epoch's svg_extracted_data.csv: Model Size 6795600349.29, Training FLOP 9.9938528e18, loss 5.005582
    assert runs.params[0] == pytest.approx(6795600349.29, rel=1e-9)
    assert runs.flops[0] == pytest.approx(9.993852799709755e18, rel=1e-8)
    np.testing.assert_allclose(runs.tokens, runs.flops / (6 * runs.params), rtol=1e-8)  # D = C / 6N
    dropped = runs[runs.in_besiroglu_fit == 0].loss
    assert dropped.min() >= runs[runs.in_besiroglu_fit == 1].loss.max()


def test_datablations_fit_set_and_epochs():
    fit_set, every = cs.load_dataset("datablations"), cs.load_dataset("datablations_all")
    assert (len(fit_set), len(every)) == (182, 296)
    assert {"params", "tokens", "unique_tokens", "loss", "name"} <= set(fit_set.columns)
    row = fit_set[fit_set.name == "2b832b4b"].iloc[0]  # 2.8B params, 32B tokens, 4B unique -> 8 epochs
    assert (row.params, row.tokens, row.unique_tokens) == (2.81e9, 3.2e10, 4e9)
    assert row.tokens / row.unique_tokens == 8
    assert (every.name == "2b855b11b").sum() > 1  # seed replicates share a name


def test_gadre_runs_carry_losses_errors_and_6nd():
    runs = cs.load_dataset("gadre_overtraining")
    assert len(runs) == 104 and runs.run_id.is_unique
    np.testing.assert_allclose(runs.flops, 6.0 * runs.params.astype(float) * runs.tokens.astype(float), rtol=1e-9)
    np.testing.assert_allclose(runs.tokens_per_param, 20 * runs.chinchilla_multiplier)
    assert sum(c.startswith("loss_") for c in runs.columns) == 8
    assert sum(c.startswith("err_") for c in runs.columns) == 48  # 46 tasks + two averages
    small = runs[runs.run_id == "rw_original-d=96_l=8_h=4-1.0"].iloc[0]
    assert small.params == 10569312 and small.loss_c4_val == pytest.approx(5.271892380117802)


def test_misfitting_drops_the_duplicate_loss_column():
    final, checkpoints = cs.load_dataset("misfitting_li2025"), cs.load_dataset("misfitting_li2025_checkpoints")
    assert (len(final), len(checkpoints)) == (261, 4852)
    raw = pd.read_csv(data_root() / "misfitting_li2025/scaling_results.csv")
    assert (raw["loss"] == raw["C4 Eval Loss"]).all()  # so dropping it loses nothing
    assert "C4 Eval Loss" not in checkpoints and (checkpoints.params == raw.N).all() and (checkpoints.tokens == raw.D).all()


def test_goyal_parameters_one_row_per_bucket():
    params = cs.load_dataset("goyal_datafiltering")
    assert len(params) == 10
    utility = params[params.fit == "tmars_imagenet1k_utility"].set_index("bucket")
    # PROVENANCE: b = [-0.16, -0.125, ...], tau = [6.73, 8.55, ...], a = 0.025, d = 0.1
    assert utility.loc["tmars_top0to10p", "b"] == pytest.approx(-0.16)
    assert utility.loc["tmars_top10to20p", "tau"] == pytest.approx(8.545454545454547)
    assert (utility.a == 0.025).all() and (utility.d == 0.1).all()
    assert params[params.fit == "tmars_imagenet1k_data"].d.isna().all()


@pytest.mark.parametrize("name", list(DATASETS))
def test_documented_columns_exist_and_provenance_ships(name):
    frame = cs.load_dataset(name)
    documented = [c for c in DATASETS[name].columns if "<" not in c]
    assert [c for c in documented if c not in frame.columns] == []
    assert "SOURCE REPO" in provenance(name) or "SOURCE" in provenance(name)
    frame.iloc[0, 0] = None  # a new frame each call: editing one leaves the next untouched
    assert cs.load_dataset(name).iloc[0, 0] is not None


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(CurascaleError, match="unknown dataset 'chinchila'.*chinchilla"):
        cs.load_dataset("chinchila")


def test_every_shipped_file_is_package_data():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["curascale.datasets"]
    shipped = [p.relative_to(data_root()).as_posix() for p in data_root().rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".py"]
    assert len(shipped) >= 12
    assert [f for f in shipped if not any(fnmatch.fnmatch(f, pattern) for pattern in patterns)] == []
    assert sum((data_root() / f).stat().st_size for f in shipped) < 3_000_000  # the package stays small
