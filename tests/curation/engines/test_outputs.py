"""The output folder: never the pool, one process at a time, the set of outputs replaced as a whole
(a kill at every stage leaves the old or the new complete set), disk full as one line."""

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from curascale import io
from curascale.errors import CurascaleError
from curation.demo import write_demo_pool
from curation.engines.local import LocalEngine
from curation.pool import Pool
from curation.steps.clip_score import ClipScore

OUTPUTS = ("subset.npy", "manifest.parquet", "exclusions.parquet", "manifest.json")
CLI = [sys.executable, "-c", "from curascale.cli.app import main; main()"]


def outputs(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in OUTPUTS if (folder / name).exists()}


def curate(*args):
    return subprocess.run([*CLI, "curate", *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def small_pool(tmp_path_factory):
    root = tmp_path_factory.mktemp("small") / "pool"
    write_demo_pool(root, 600, shards=2, seed=5)
    return root


def test_case_3_27_out_is_the_pool_or_inside_it(small_pool, tmp_path):
    pool = tmp_path / "p"
    shutil.copytree(small_pool, pool)
    before = sorted(p.name for p in pool.iterdir())
    for out in (pool, pool / "sub", pool / "." / "x" / ".."):
        result = curate("clip-score", pool, "--out", out, "--fraction", "0.3")
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines() == [f"error: output folder {out} is the pool {pool} or inside it; choose a folder outside the pool"]
    assert sorted(p.name for p in pool.iterdir()) == before
    assert curate("clip-score", pool, "--out", tmp_path / "again", "--fraction", "0.3").returncode == 0


def test_a_second_process_on_the_same_output_folder_stops_with_one_line(small_pool, tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", f"import sys, time\nfrom curation.out_dir import claim\nwith claim({str(out)!r}):\n    print('held', flush=True)\n    time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert holder.stdout.readline().strip() == "held"
        result = curate("clip-score", small_pool, "--out", out, "--fraction", "0.3")
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [f"error: {out}: another curascale process is writing to this output folder; wait for it to finish or choose another folder"]
        assert not (out / "subset.npy").exists()
    finally:
        holder.kill()
        holder.wait()
    assert curate("clip-score", small_pool, "--out", out, "--fraction", "0.3").returncode == 0  # the kernel released the dead holder's lock


def test_two_runs_at_once_leave_one_complete_set(small_pool, tmp_path):
    # /work/shared/cases/4.14: two clip-score runs on one --out raced on the same temp files
    out = tmp_path / "out"
    runs = [subprocess.Popen([*CLI, "curate", "clip-score", str(small_pool), "--out", str(out), "--fraction", "0.3"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(run.wait(), run.stderr.read()) for run in runs]
    assert all(code == 0 or (code == 2 and "another curascale process" in err and "Traceback" not in err) for code, err in results)
    assert any(code == 0 for code, _ in results)
    sidecar = json.loads((out / "manifest.json").read_text())
    import hashlib

    for name, digest in sidecar["sha256"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest


KILLER = """
import json, os, shutil, sys
from pathlib import Path
from curascale import io
from curation.engines.local import LocalEngine
from curation.pool import Pool
from curation.steps.clip_score import ClipScore

pool, folder, old_threshold, new_threshold = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
NAMES = ("subset.npy", "manifest.parquet", "exclusions.parquet", "manifest.json")


def run(out, threshold, stop=0):
    # in a forked child (this process never starts a thread, so forking is safe): os.replace dies
    # at call number `stop`; the exit status says whether it was killed (9) or finished (0)
    pid = os.fork()
    if pid == 0:
        calls, real = [0], os.replace
        def replace(source, target, *args, **kwargs):
            calls[0] += 1
            if calls[0] == stop:
                os._exit(9)
            return real(source, target, *args, **kwargs)
        os.replace = replace
        LocalEngine(progress=False, workers=1).run(Pool.open(pool), [ClipScore(arch="l14", threshold=threshold)], out, exclusions=True)
        (folder / "calls").write_text(str(calls[0]))
        os._exit(0)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def outputs(out):
    return {name: (out / name).read_bytes() for name in NAMES if (out / name).exists()}


assert run(folder / "old", old_threshold) == 0
assert run(folder / "new", new_threshold) == 0
stages = int((folder / "calls").read_text())
old, new = outputs(folder / "old"), outputs(folder / "new")
report = {"stages": stages, "sets_differ": old != new and set(old) == set(new) == set(NAMES), "found": {}, "resumed": {}}
for stop in range(1, stages + 1):
    out = folder / f"kill{stop}"
    shutil.copytree(folder / "old", out)
    status = run(out, new_threshold, stop)
    io.recover_set(out)  # what a reader (or the next run) does first
    found = outputs(out)
    report["found"][stop] = [status, "old" if found == old else "new" if found == new else "mixed"]
    if stop in (1, stages // 2, stages - 1):  # a rerun resumes to the new set and clears what the kill left
        status = run(out, new_threshold)
        leftovers = [p.name for p in out.iterdir() if p.name.startswith(".staged.") or (p.name.startswith(".") and p.name.endswith(".tmp"))]
        report["resumed"][stop] = [status, outputs(out) == new, leftovers]
print(json.dumps(report))
"""


def test_a_kill_at_every_stage_leaves_the_old_or_the_new_complete_set(small_pool, tmp_path):
    result = subprocess.run([sys.executable, "-c", KILLER, str(small_pool), str(tmp_path), "0.25", "0.3"], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sets_differ"]
    assert report["stages"] >= 2 * 3 + 4  # per shard: result, uids, marker; then the staged outputs, the journal, the moves
    assert all(status == 9 for status, _ in report["found"].values())  # killed at every stage
    assert {verdict for _, verdict in report["found"].values()} == {"old", "new"}, report["found"]  # never "mixed"
    assert len(report["resumed"]) == 3 and all(resumed == [0, True, []] for resumed in report["resumed"].values()), report["resumed"]


def test_disk_full_while_publishing_is_one_line_and_keeps_the_old_set(small_pool, tmp_path, monkeypatch):
    out = tmp_path / "out"
    LocalEngine(progress=False).run(Pool.open(small_pool), [ClipScore(arch="l14", threshold=0.25)], out)
    old = outputs(out)
    real = os.replace

    def full(source, target, *args, **kwargs):
        if Path(target).name.startswith(".staged.") and Path(target).name.endswith("manifest.json"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(CurascaleError, match=r"cannot write \(no space left on the device\)$") as caught:
        LocalEngine(progress=False).run(Pool.open(small_pool), [ClipScore(arch="l14", threshold=0.3)], out)
    assert "\n" not in str(caught.value)
    monkeypatch.setattr(os, "replace", real)
    assert outputs(out) == old
    assert not list(out.glob(".staged.*")) and not list(out.glob(".*.tmp"))


def mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True).returncode == 0


def test_case_4_67_a_real_full_disk_is_one_line_and_nothing_half_written(tmp_path):
    mnt = tmp_path / "mnt"
    if not mount_tmpfs(mnt, "8m"):
        pytest.skip("needs root to mount a small tmpfs (the ENOSPC test above covers the rule)")
    try:
        pool = tmp_path / "pool"
        write_demo_pool(pool, 200_000, shards=4, seed=1)
        result = curate("clip-score", pool, "--out", mnt / "out", "--fraction", "0.9")
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "no space left on the device" in result.stderr
        assert not any((mnt / "out" / name).exists() for name in OUTPUTS)
        assert not list((mnt / "out").glob(".staged.*")) and not [p for p in (mnt / "out").rglob("*.tmp")]
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_negative_workers_are_one_line(small_pool, tmp_path):
    with pytest.raises(CurascaleError, match="workers must be an integer in \\[1, inf\\], got -2"):
        LocalEngine(workers=-2)
    result = curate("clip-score", small_pool, "--out", tmp_path / "out", "--fraction", "0.3", "--workers", "-1")
    assert result.returncode == 2 and result.stderr.strip().splitlines() == ["error: workers must be an integer in [1, inf], got -1"]


def test_case_4_45_nan_threshold_is_one_line(small_pool, tmp_path):
    result = curate("clip-score", small_pool, "--out", tmp_path / "out", "--threshold", "nan")
    assert result.returncode == 2 and result.stderr.strip().splitlines() == ["error: threshold must be a number, got nan"]
    assert not (tmp_path / "out").exists()


def test_output_names_stay_inside_the_output_folder(small_pool, tmp_path):
    from curation.out_dir import target
    from curation.steps.bucketize import Bucketize

    out = tmp_path / "out"
    out.mkdir()
    assert target(out, "top0to10p") == out / "top0to10p"
    for name in ("../escape", "/etc", "a/../../b", "."):
        with pytest.raises(CurascaleError, match="would leave the output folder"):
            target(out, name)
    # a bucket folder that is a link out of the output folder is refused before anything runs
    (tmp_path / "elsewhere").mkdir()
    (out / "top0to50p").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(CurascaleError, match="output name 'top0to50p' would leave the output folder"):
        LocalEngine(progress=False).run(Pool.open(small_pool), [Bucketize(edges=(0, 50))], out)
    assert list((tmp_path / "elsewhere").iterdir()) == []
