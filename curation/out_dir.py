"""The rules of an output folder, in one place (every engine and stage writes through them):

- `WORK`: the hidden folder of resumable work files (OUT/.curascale-work/<run key>/).
- `claim(out, pool=...)`: refuses an output folder equal to or inside the pool it reads (the
  outputs and work files would land among the pool's shards); takes an exclusive lock on the
  folder for the whole run (`.curascale.lock`, an advisory `flock` the kernel releases when the
  process dies), so a second process on the same folder stops with one line instead of racing on
  the same files; finishes an interrupted publish (`curascale.io.recover_set`) and removes files
  staged by a run that died before publishing. Re-entrant within a process.
- `target(out, name)`: an output path from a name that may come from the user (a bucket name):
  it must stay inside the folder.
- A URL (`s3://bucket/dir`, `gs://...`): the claim checks the bucket first (one line when it is
  missing or the store refuses us), finishes an interrupted remote publish, and yields a local
  staging folder keyed by the URL (`staging_folder`; so a killed run resumes from its finished
  shards). When the outermost claim ends without an error, every output in it (all but hidden
  names) is published at the URL as one set through the one writer (`curascale.io.publish_set`,
  which replaces the set published there before), and the staged outputs are removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import threading
from pathlib import Path
from typing import Iterator

from curascale import io, io_remote
from curascale.errors import CurascaleError
from curascale.io import recover_set

WORK = ".curascale-work"
LOCK = ".curascale.lock"
STAGED_PREFIX = ".staged."

_held: dict[Path, list] = {}  # folder -> [file descriptor, depth]
_guard = threading.Lock()


def inside(path: Path, folder: Path) -> bool:
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


def target(out: str | os.PathLike, name: str) -> Path:
    """OUT/name, refused when `name` would leave OUT (absolute, '..', a link out)."""
    path = Path(out) / name
    if Path(name).is_absolute() or not inside(path, out) or Path(out).resolve() == path.resolve():
        raise CurascaleError(f"output name {name!r} would leave the output folder {out}")
    return path


def stale_files(folder: Path) -> list[Path]:
    """Files a killed writer left in `folder`: staged outputs never published (`.staged.*`) and
    the one writer's temporary files (`.NAME.PID.tmp`). Only safe to remove under the lock."""
    return [path for path in folder.iterdir() if path.is_file() and (path.name.startswith((STAGED_PREFIX, "." + STAGED_PREFIX))
            or (path.name.startswith(".") and path.name.endswith(".tmp") and path.name.rsplit(".", 2)[-2].isdigit()))]


def staging_folder(url: str) -> Path:
    """The local folder where the outputs for `url` are made before they are published there:
    $XDG_CACHE_HOME/curascale/outputs/<sha256 of the URL> (default ~/.cache/...)."""
    return io.cache_directory("outputs", hashlib.sha256(url.encode()).hexdigest()[:16])


def outputs(folder: Path) -> dict[str, Path]:
    """The outputs in `folder` (relative name -> path), without hidden names (work files, the
    lock, staged and temporary files) at any depth."""
    found = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in name.parts):
            found[name.as_posix()] = path
    return found


@contextlib.contextmanager
def claim(out: str | os.PathLike, *, pool: str | os.PathLike | None = None) -> Iterator[Path]:
    if io_remote.is_url(str(out)):
        with _claim_url(str(out).rstrip("/"), pool) as folder:
            yield folder
        return
    with _claim_local(Path(out), pool) as folder:
        yield folder


@contextlib.contextmanager
def _claim_url(url: str, pool) -> Iterator[Path]:
    if pool is not None and io_remote.is_url(str(pool)):
        pool = str(pool).rstrip("/")
        if url == pool or url.startswith(pool + "/"):
            raise CurascaleError(f"output folder {url} is the pool {pool} or inside it; choose a folder outside the pool")
    local = staging_folder(url)
    outermost = local.resolve() not in _held
    with _claim_local(local, None, shown=url) as folder:
        if outermost:  # under the lock: one process of this machine writes the URL at a time
            io_remote.check_folder(url)
            recover_set(url)
        yield folder
        if outermost:
            io.publish_set(url, outputs(folder))
            for path in folder.iterdir():
                if path.name != LOCK:
                    shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


@contextlib.contextmanager
def _claim_local(out: Path, pool, shown: str | None = None) -> Iterator[Path]:
    """The local claim; `shown`: the name errors give the folder (an output URL it stages)."""
    if pool is not None and not io_remote.is_url(str(pool)) and inside(out, pool):
        raise CurascaleError(f"output folder {out} is the pool {pool} or inside it; choose a folder outside the pool")
    if out.exists() and not out.is_dir():
        raise CurascaleError(f"{out}: not a folder; give an output folder")
    out.mkdir(parents=True, exist_ok=True)
    key = out.resolve()
    with _guard:
        entry = _held.get(key)
        if entry is None:
            descriptor = os.open(key / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                raise CurascaleError(f"{shown or out}: another curascale process is writing to this output folder; wait for it to finish or choose another folder") from None
            entry = _held[key] = [descriptor, 0]
            recover_set(key)
            for stale in stale_files(key):
                stale.unlink(missing_ok=True)
        entry[1] += 1
    try:
        yield out
    finally:
        with _guard:
            entry[1] -= 1
            if entry[1] == 0:
                del _held[key]
                os.close(entry[0])  # closing the descriptor releases the lock
