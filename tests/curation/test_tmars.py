"""T-MARS end to end on the local engine: scores, the keep rule, unreadable images, resume."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("open_clip")
pytest.importorskip("rapidocr_onnxruntime")

from curation.pool import uid_pairs  # noqa: E402
from curation.tmars import TmarsOptions, run_tmars  # noqa: E402

TINY = TmarsOptions(clip_model="curascale-tiny-clip", pretrained=None, device="cpu", unmasked_score=True)
CLI = [sys.executable, "-c", "from curascale.cli.app import main; main()", "curate", "tmars"]


@pytest.fixture(scope="module")
def tmars_out(image_shards, tmp_path_factory):
    out = tmp_path_factory.mktemp("tmars")
    report = run_tmars(image_shards, out, options=TINY, fraction=0.5, batch_size=5, workers=2, progress=False)
    return out, report


def test_the_keep_rule_is_datacomps_fraction_rule_on_tmars_score(tmars_out):
    out, report = tmars_out
    scores = pa.concat_tables([pq.read_table(p) for p in sorted((out / "scores").glob("*.parquet"))])
    assert scores.num_rows == 25  # 24 demo images + the good one of the third shard
    values = scores.column("tmars_score").to_numpy()
    threshold = -np.sort(-values)[int(25 * 0.5)]
    expected = np.sort(uid_pairs(scores.column("uid").filter(pa.array(values >= threshold))))
    assert np.array_equal(np.load(out / "subset.npy"), expected)
    manifest = pq.read_table(out / "manifest.parquet")
    assert set(manifest.column_names) >= {"uid", "url", "text", "tmars_score", "repetition_weight"}
    assert manifest.num_rows == len(expected) == report.outputs[""]["samples"]


def test_masking_changes_the_score_only_of_images_with_text(tmars_out):
    out, _ = tmars_out
    scores = pq.read_table(out / "scores" / "00000000.parquet").to_pydict()
    for boxes, area, masked, unmasked in zip(scores["text_boxes"], scores["text_area"], scores["tmars_score"], scores["clip_score"]):
        if boxes:
            assert area > 0 and masked != unmasked
        else:
            assert area == 0 and masked == unmasked
    assert sum(bool(b) for b in scores["text_boxes"]) >= 4


def test_unreadable_images_are_counted_listed_and_skipped(tmars_out):
    out, _ = tmars_out
    sidecar = json.loads((out / "manifest.json").read_text())
    images = sidecar["images"]
    assert images["samples"] == 27 and images["scored"] == 25 and images["unreadable_count"] == 2
    problems = {entry["key"]: entry for entry in images["unreadable"]}
    assert problems["b1"]["uid"] == "f" * 32 and problems["b1"]["error"].startswith("cannot decode image")
    assert problems["b2"]["error"] == "no uid in its json"
    assert [step["step"] for step in images["chain"]] == ["decode_images", "text_detect", "mask_text", "clip_rescore", "clip_rescore"]
    assert sidecar["pool"]["path"] == "scores"


def test_a_killed_run_resumes_to_byte_identical_outputs(image_shards, tmp_path):
    args = [str(image_shards), "--clip-model", "curascale-tiny-clip", "--pretrained", "none", "--device", "cpu", "--workers", "1", "--batch-size", "4"]
    whole = subprocess.run([*CLI, *args, "--out", str(tmp_path / "whole")], capture_output=True, text=True)
    assert whole.returncode == 0, whole.stderr
    process = subprocess.Popen([*CLI, *args, "--out", str(tmp_path / "killed")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list((tmp_path / "killed").glob(".curascale-work/*/*.done.json")) and time.time() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "killed" / "manifest.json").exists()  # killed before the end
    again = subprocess.run([*CLI, *args, "--out", str(tmp_path / "killed")], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    for name in ("subset.npy", "manifest.parquet", "manifest.json", "scores/00000000.parquet", "scores/00000001.parquet", "scores/00002.parquet"):
        assert (tmp_path / "killed" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    assert "unreadable" in whole.stdout


def test_bad_arguments_are_one_line_errors(image_shards, tmp_path):
    for extra, message in ((["--engine", "spark"], "--engine must be local or ray"), (["--detector", "paddle"], "detector must be one of")):
        result = subprocess.run([*CLI, str(image_shards), "--out", str(tmp_path), "--pretrained", "none", *extra], capture_output=True, text=True)
        assert result.returncode == 2 and message in result.stderr
    result = subprocess.run([*CLI, str(tmp_path / "nothing"), "--out", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2 and "no WebDataset .tar shards" in result.stderr
