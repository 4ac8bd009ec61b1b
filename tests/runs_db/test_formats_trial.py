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
