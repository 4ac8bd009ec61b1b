"""Defects a new-user trial of the trainer formats found (issues #14, #17): a folder walk that
follows links, evals merged, overridden or left out without a word. Each test is one instance of
the kind, with the value a correct reader gives, worked out by hand from the file written."""

import json
import os
from pathlib import Path

import pytest

from curascale.errors import CurascaleError, IngestError
from runs_db.formats import read_outputs
from runs_db.ingest_sources import resolve_source
from trainer_outputs import _datacomp_run, _open_clip_run


def _relative(root: Path, report) -> tuple[list[str], dict[str, str]]:
    read = sorted(Path(r.path).relative_to(root).as_posix() for r in report.read)
    return read, {Path(s.path).relative_to(root).as_posix(): s.reason for s in report.skipped}


# ---- 1. the folder walk reads every run once, under its real path, inside the folder ------------

def test_a_link_to_the_folder_itself_reads_the_run_once(tmp_path):
    root = tmp_path / "sweep"
    _datacomp_run(root / "run_a")
    os.symlink(".", root / "again")
    report = read_outputs(root)
    read, skipped = _relative(root, report)
    assert read == ["run_a"] and list(report.table.run_id) == ["run_a"]
    assert "again" in skipped and "symbolic link" in skipped["again"] and "inside the folder" in skipped["again"]


def test_a_latest_run_link_does_not_store_the_run_twice(tmp_path):
    root = tmp_path / "sweep"
    _datacomp_run(root / "run-2024")
    os.symlink("run-2024", root / "latest-run")  # wandb's habit
    report = read_outputs(root)
    assert list(report.table.run_id) == ["run-2024"]  # the real name, not the link's
    assert "links are not followed" in _relative(root, report)[1]["latest-run"]


def test_a_link_out_of_the_folder_is_not_walked(tmp_path):
    _datacomp_run(tmp_path / "elsewhere")
    root = tmp_path / "sweep"
    _datacomp_run(root / "mine")
    os.symlink("..", root / "loop")
    os.symlink(tmp_path / "elsewhere", root / "theirs")
    report = read_outputs(root)
    read, skipped = _relative(root, report)
    assert read == ["mine"]
    assert "outside the folder ingested" in skipped["loop"] and "outside the folder ingested" in skipped["theirs"]
    source = resolve_source(root)
    assert any(line.startswith(f"skipped {root / 'loop'}: a symbolic link") for line in source.account())


# ---- 3. open_clip: epochs from the schedule when the lines give none; epoch 0 reported ---------

def _open_clip_lines(folder: Path, lines, **params):
    _open_clip_run(folder, lines=lines)
    text = (folder / "params.txt").read_text() + "".join(f"{k}: {v}\n" for k, v in params.items())
    (folder / "params.txt").write_text(text)


def _notes(report) -> list[str]:
    return [r.what for r in report.remarks]


def test_open_clip_without_epochs_takes_them_from_the_zeroshot_schedule(tmp_path):
    # epochs 5, zeroshot_frequency 2: open_clip evaluates after epochs 2, 4 and 5 (the last)
    top1 = [0.09, 0.14, 0.15]
    _open_clip_lines(tmp_path / "run1", [{"imagenet-zeroshot-val-top1": v} for v in top1], zeroshot_frequency=2)
    (tmp_path / "run1" / "params.txt").write_text((tmp_path / "run1" / "params.txt").read_text().replace("epochs: 3", "epochs: 5"))
    report = read_outputs(tmp_path / "run1")
    assert list(report.table.checkpoint_epoch) == [2, 4, 5]
    assert list(report.table.samples_seen) == [2 * 2_560_000.0, 4 * 2_560_000.0, 5 * 2_560_000.0]
    assert list(report.table.accuracy_imagenet1k) == top1
    assert any("epochs 2, 4, 5 taken from their order" in note for note in _notes(report))


def test_open_clip_without_epochs_default_frequency_and_too_many_lines(tmp_path):
    _open_clip_lines(tmp_path / "run", [{"imagenet-zeroshot-val-top1": v} for v in (0.1, 0.2)])  # epochs 3, frequency 1 (default)
    report = read_outputs(tmp_path / "run")
    assert list(report.table.checkpoint_epoch) == [1, 2]
    assert any("2 of 3 scheduled evaluations present" in note for note in _notes(report))
    _open_clip_lines(tmp_path / "resumed", [{"imagenet-zeroshot-val-top1": 0.1}] * 4)
    with pytest.raises(IngestError, match=r"4 lines without an epoch, but params.txt \(epochs 3, zeroshot_frequency 1\) evaluates 3 epochs"):
        read_outputs(tmp_path / "resumed")


def test_open_clip_epoch_zero_duplicate_epoch_and_clip_val_loss_are_reported(tmp_path):
    _open_clip_lines(tmp_path / "run", [
        {"imagenet-zeroshot-val-top1": 0.001, "clip_val_loss": 3.0, "epoch": 0, "num_samples": 5000},
        {"imagenet-zeroshot-val-top1": 0.05, "clip_val_loss": 2.9, "epoch": 1, "image_to_text_R@1": 0.02},
        {"imagenet-zeroshot-val-top1": 0.09, "clip_val_loss": 2.8, "epoch": 2},
        {"imagenet-zeroshot-val-top1": 0.11, "clip_val_loss": 2.75, "epoch": 2},
    ])
    report = read_outputs(tmp_path / "run")
    assert list(report.table.checkpoint_epoch) == [1, 2]
    assert list(report.table.loss_val) == [2.9, 2.75]  # clip_val_loss is the loss on split val; the later epoch-2 line
    assert list(report.table.accuracy_imagenet1k) == [0.05, 0.11]
    notes = _notes(report)
    assert any(note.startswith("row 1: epoch 0") for note in notes)
    assert "epoch 2 evaluated twice (rows 3 and 4, a resumed run): row 4 kept" in notes
    assert "not read (no registry metric for them): image_to_text_R@1" in notes
