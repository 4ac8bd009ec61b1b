"""The one writer (curascale/io.py): atomic replacement, links and devices written through,
directories refused, sets of outputs published whole."""

import json
import os
import stat
import subprocess
import sys
import threading

import pytest

from curascale import io
from curascale.errors import CurascaleError


def test_regular_file_is_replaced_atomically_and_no_temp_file_is_left(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    io.write_json(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_a_failed_write_leaves_the_old_bytes(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with io.open_atomic(target) as handle:
            handle.write("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    io.write_text(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new"


def test_a_fifo_is_written_through_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(open(fifo).read()))
    reader.start()
    io.write_text(fifo, "through the pipe")
    reader.join(timeout=10)
    assert received == ["through the pipe"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_dev_null_stays_a_device(tmp_path):
    io.write_text("/dev/null", "discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_directory_target_is_one_line_naming_it(tmp_path):
    with pytest.raises(CurascaleError, match="is a directory"):
        io.write_text(tmp_path, "x")


def test_dash_is_standard_output():
    program = "from curascale import io; io.write_text('-', 'to stdout\\n')"
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert result.stdout == "to stdout\n"


def test_nan_is_refused_in_json(tmp_path):
    with pytest.raises(CurascaleError, match="non-finite"):
        io.write_json(tmp_path / "x.json", {"value": float("nan")})
    assert not (tmp_path / "x.json").exists()


def test_disk_full_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    import errno

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io.os, "replace", full)
    with pytest.raises(CurascaleError, match="no space left"):
        io.write_text(tmp_path / "x.txt", "data")
    assert list(tmp_path.iterdir()) == []


def test_publish_set_moves_every_staged_file(tmp_path):
    (tmp_path / "subset.npy").write_text("old subset")
    (tmp_path / "manifest.json").write_text("old manifest")
    staged = {}
    for name, text in (("subset.npy", "new subset"), ("manifest.json", "new manifest")):
        staged[name] = io.stage_path(tmp_path, name)
        staged[name].write_text(text)
    io.publish_set(tmp_path, staged)
    assert (tmp_path / "subset.npy").read_text() == "new subset"
    assert (tmp_path / "manifest.json").read_text() == "new manifest"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "subset.npy"]


def test_an_interrupted_publish_is_rolled_forward(tmp_path):
    (tmp_path / "subset.npy").write_text("old subset")
    (tmp_path / "manifest.json").write_text("old manifest")
    staged = {name: io.stage_path(tmp_path, name) for name in ("subset.npy", "manifest.json")}
    staged["subset.npy"].write_text("new subset")
    staged["manifest.json"].write_text("new manifest")
    # the journal is written, then the process dies after the first rename
    io.write_json(tmp_path / io.JOURNAL, {"moves": {str(staged[n]): str(tmp_path / n) for n in staged}})
    os.replace(staged["subset.npy"], tmp_path / "subset.npy")
    assert (tmp_path / "manifest.json").read_text() == "old manifest"  # mixed until recovered
    assert io.recover_set(tmp_path) is True
    assert (tmp_path / "manifest.json").read_text() == "new manifest"
    assert (tmp_path / "subset.npy").read_text() == "new subset"
    assert io.recover_set(tmp_path) is False


def test_publish_set_refuses_names_outside_the_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    source = io.stage_path(out, "x")
    source.write_text("x")
    with pytest.raises(CurascaleError, match="would leave"):
        io.publish_set(out, {"../escape.txt": source})
    assert not (tmp_path / "escape.txt").exists()


def test_a_short_write_is_the_one_disk_full_message(tmp_path):
    import numpy as np

    with pytest.raises(CurascaleError) as caught:
        with io.atomic_path(tmp_path / "a.npy"):
            raise OSError("5000 requested and 2040 written")  # what numpy's tofile raises on a full disk
    assert str(caught.value) == f"{tmp_path / 'a.npy'}: cannot write (no space left on the device)"
    assert not list(tmp_path.iterdir())


DEFERRED_PROGRAM = """
import os, signal, sys
from pathlib import Path
from curascale.io import interrupts_deferred, write_text
folder = Path(sys.argv[1])
try:
    with interrupts_deferred():
        write_text(folder / "first.json", "{}")
        os.kill(os.getpid(), getattr(signal, sys.argv[2]))  # arrives between the two outputs
        write_text(folder / "second.png", "png")
    print("not interrupted")
except KeyboardInterrupt:
    print("interrupted after", sorted(p.name for p in folder.iterdir()))
"""


@pytest.mark.parametrize("name, code", [("SIGINT", 0), ("SIGTERM", -15)])
def test_an_interrupt_between_two_outputs_waits_for_both(tmp_path, name, code):
    """Ctrl-C (or SIGTERM) between a fit's artifact and its figure (trial: the figure was lost, and
    nothing said so): both are written, then the interrupt acts (KeyboardInterrupt; SIGTERM kills
    with its default action, after the block)."""
    from pathlib import Path

    result = subprocess.run([sys.executable, "-c", DEFERRED_PROGRAM, str(tmp_path), name], capture_output=True, text=True,
                            env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert result.returncode == code
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.json", "second.png"]
    assert result.stdout.strip() == ("interrupted after ['first.json', 'second.png']" if name == "SIGINT" else "")
