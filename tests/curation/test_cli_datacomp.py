"""`curascale curate no-filter|laion2b|text-based|image-based` and the same baselines in a
`curate run` pipeline: the same subsets; bad input is one line and exit 2."""

import subprocess
import sys

import numpy as np

from curation.demo import write_demo_pool
from curation.engines.local import LocalEngine
from curation.pool import Pool
from curation.steps.image_based import ImageBasedClipScore
from curation.steps.laion2b import Laion2b


def curascale(*args, code=0):
    result = subprocess.run([sys.executable, "-c", "from curascale.cli.app import main; main()", *args], capture_output=True, text=True)
    assert result.returncode == code, result.stderr
    return result


def test_commands_and_pipelines_give_the_steps_subsets(tmp_path):
    write_demo_pool(tmp_path / "pool", 2000, shards=2, with_npz=True, seed=2)
    np.save(tmp_path / "targets.npy", np.load(tmp_path / "pool" / "00000001.npz")["l14_img"][:30])
    (tmp_path / "chain.toml").write_text(
        'pool = "pool"\nout = "piped"\n[[steps]]\nstep = "laion2b"\n'
        '[[steps]]\nstep = "image_based_clip_score"\ntargets = "targets.npy"\nclusters = 25\narch = "l14"\nfraction = 0.5\n')
    curascale("curate", "run", str(tmp_path / "chain.toml"))
    curascale("curate", "laion2b", str(tmp_path / "pool"), "--out", str(tmp_path / "cli_laion"), "--subset-only")
    curascale("curate", "image-based", str(tmp_path / "pool"), "--out", str(tmp_path / "cli_image"), "--targets", str(tmp_path / "targets.npy"),
              "--clusters", "25", "--fraction", "0.5", "--subset-only")
    targets = str(tmp_path / "targets.npy")
    engine = LocalEngine(progress=False)
    engine.run(Pool.open(tmp_path / "pool"), [Laion2b(), ImageBasedClipScore(targets=targets, clusters=25, arch="l14", fraction=0.5)], tmp_path / "lib_chain")
    engine.run(Pool.open(tmp_path / "pool"), [Laion2b()], tmp_path / "lib_laion")
    engine.run(Pool.open(tmp_path / "pool"), [ImageBasedClipScore(targets=targets, clusters=25, arch="l14", fraction=0.5)], tmp_path / "lib_image")
    for cli, library in (("piped", "lib_chain"), ("cli_laion", "lib_laion"), ("cli_image", "lib_image")):
        np.testing.assert_array_equal(np.load(tmp_path / cli / "subset.npy"), np.load(tmp_path / library / "subset.npy"))
    assert 0 < len(np.load(tmp_path / "piped" / "subset.npy")) < len(np.load(tmp_path / "cli_image" / "subset.npy"))


def test_bad_input_is_one_line(tmp_path):
    write_demo_pool(tmp_path / "pool", 100, shards=1, seed=2)  # no .npz
    np.save(tmp_path / "targets.npy", np.ones((2, 768), np.float32))
    result = curascale("curate", "image-based", str(tmp_path / "pool"), "--out", str(tmp_path / "out"), "--targets", str(tmp_path / "targets.npy"), "--clusters", "2", code=2)
    assert result.stderr.strip().splitlines() == [f"error: {tmp_path / 'pool' / '00000000.parquet'}: no embeddings file {tmp_path / 'pool' / '00000000.npz'} (needed for 'l14_img')"]
    result = curascale("curate", "laion2b", str(tmp_path / "pool"), "--out", str(tmp_path / "out"), "--language-id", "cld2", code=2)
    assert "language_id must be one of fasttext, gcld3, got 'cld2'" in result.stderr and "Traceback" not in result.stderr
