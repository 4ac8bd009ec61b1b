"""scaling.jaxconf's persistent cache of compiled fits never breaks a fit: corrupt or truncated
entries, entries that can be neither read nor written, a cache folder that cannot exist, and the
switch that turns the cache off. Each case runs `curascale fit --json` as a user would, in fresh
processes, and compares the result with the fit of a process that used no cache at all."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from paths import DATASETS
from scaling.jaxconf import CACHE_SWITCH

ROOT = Path(__file__).resolve().parents[2]
# one start near the Epoch replication's fit: a small compiled block, a quick test
START = "A=400,B=2000,E=1.8,alpha=0.34,beta=0.37"


@pytest.fixture(scope="module")
def runs_csv(tmp_path_factory):
    import pandas as pd

    frame = pd.read_csv(DATASETS / "chinchilla/chinchilla_NDL.csv")
    frame = frame[frame["in_besiroglu_fit"] == 1].rename(columns={"N_params": "params", "D_tokens": "tokens"})[["params", "tokens", "loss"]]
    path = tmp_path_factory.mktemp("runs") / "runs.csv"
    frame.assign(run_id=[f"run{i}" for i in range(len(frame))]).to_csv(path, index=False)
    return path


def fit_process(csv: Path, cache_home: Path, **env) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "from curascale.cli.app import main; main()", "fit", "chinchilla", "--csv", str(csv), "--start", START, "--json"]
    environment = {k: v for k, v in os.environ.items() if k != CACHE_SWITCH} | {"PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(cache_home), **env}
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600)


@pytest.fixture(scope="module")
def uncached(runs_csv, tmp_path_factory):
    """The fit of a process with the cache switched off: the reference every case must equal."""
    home = tmp_path_factory.mktemp("off")
    done = fit_process(runs_csv, home, **{CACHE_SWITCH: "off"})
    assert done.returncode == 0, done.stderr
    assert not (home / "curascale").exists()  # off: nothing written
    assert done.stderr == ""
    return json.loads(done.stdout)


def one_note(stderr: str) -> str:
    """stderr as one line (the terminal width wraps it), checked to hold exactly one note."""
    text = " ".join(stderr.split())
    assert text.count("note:") == 1 and "Warning" not in text, stderr
    return text


def entries(cache_home: Path) -> list[Path]:
    return sorted((cache_home / "curascale" / "jax").glob("*-cache"))


def filled_cache(csv: Path, home: Path, uncached: dict) -> list[Path]:
    first = fit_process(csv, home)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == uncached and first.stderr == ""
    found = entries(home)
    assert any(p.name.startswith("jit_chunk-") for p in found)  # the solver's chunk was cached
    return found


@pytest.mark.parametrize("damage", ["random bytes", "truncated"])
def test_corrupt_cache_entries_still_fit(runs_csv, tmp_path, uncached, damage):
    """Every entry damaged: the fit compiles instead, gives the same JSON on stdout and says so in
    one note on stderr, naming the folder to remove."""
    for entry in filled_cache(runs_csv, tmp_path, uncached):
        data = entry.read_bytes()
        entry.write_bytes(os.urandom(len(data)) if damage == "random bytes" else data[: len(data) // 2])
    damaged = fit_process(runs_csv, tmp_path)
    assert damaged.returncode == 0, damaged.stderr
    assert json.loads(damaged.stdout) == uncached
    note = one_note(damaged.stderr)
    folder = tmp_path / "curascale" / "jax"
    assert note.startswith(f"note: {len(entries(tmp_path))} entries of the compilation cache {folder} could not be read") and f"{CACHE_SWITCH}=off" in note, note
    # JAX keeps a bad entry (it never overwrites one), so the note says to remove the folder; after that, a clean cache
    shutil.rmtree(folder)
    rebuilt = fit_process(runs_csv, tmp_path)
    assert rebuilt.returncode == 0 and json.loads(rebuilt.stdout) == uncached and rebuilt.stderr == "", rebuilt.stderr
    assert entries(tmp_path)


def test_entries_that_cannot_be_read_or_written_still_fit(runs_csv, tmp_path, uncached):
    """A folder in place of every entry (what root sees of an unwritable file: neither read nor
    write succeeds): the fit runs with the same result and one note."""
    for entry in filled_cache(runs_csv, tmp_path, uncached):
        entry.unlink()
        entry.mkdir()
    blocked = fit_process(runs_csv, tmp_path)
    assert blocked.returncode == 0, blocked.stderr
    assert json.loads(blocked.stdout) == uncached
    assert "could not be read or written" in one_note(blocked.stderr), blocked.stderr


def test_a_cache_folder_that_cannot_exist_still_fits(runs_csv, tmp_path, uncached):
    """A file where the cache folder should be: no cache, the fit runs (the same result), and one
    note on stderr names the folder (trial: fits twice as slow with nothing said)."""
    (tmp_path / "curascale").write_text("not a folder")
    done = fit_process(runs_csv, tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == uncached
    assert f"cache folder {tmp_path / 'curascale' / 'jax'} cannot be created or written" in one_note(done.stderr)


def test_a_relative_xdg_cache_home_is_ignored(tmp_path, monkeypatch):
    """The XDG Base Directory specification: a relative $XDG_CACHE_HOME is invalid and ignored
    (trial: `XDG_CACHE_HOME=relcache` made ./relcache in whatever folder the command ran in)."""
    from scaling.jaxconf import cache_directory

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", "relcache")
    assert cache_directory() == tmp_path / ".cache" / "curascale" / "jax"


@pytest.mark.parametrize("value", ["off", "0", "No", "FALSE"])
def test_the_switch_turns_the_cache_off(value, monkeypatch, tmp_path):
    from scaling.jaxconf import cache_switched_off, use_compilation_cache

    monkeypatch.setenv(CACHE_SWITCH, value)
    assert cache_switched_off()
    assert use_compilation_cache(tmp_path / "jax") is None and not (tmp_path / "jax").exists()
    monkeypatch.setenv(CACHE_SWITCH, "on")
    assert not cache_switched_off()
