"""The one writer: every file curascale writes goes through here.

Rules (the same for fits, plots, exports, pools and manifests):
- ``-`` means standard output (for the writers that stream a single file).
- A regular file (or a new path) is written to a temporary file beside it and renamed over it:
  readers see the old bytes or the new bytes, never half a file. The temporary name carries the
  process id, so two processes writing the same output cannot clobber each other's temp file.
- An existing symbolic link is written *through*: its target is the file that gets replaced
  (atomically, when the target is a regular file); the link itself stays a link.
- An existing device, FIFO or socket (``/dev/stdout``, a named pipe) is written through in
  place: it cannot be renamed over and must never be replaced by a regular file.
- A directory where a file is expected is an error naming the path.
- A set of outputs that belong together (a subset, its manifest and sidecar) is published with
  `publish_set`: staged files plus a journal, then renamed into place; an interrupted publish is
  rolled forward by `recover_set`, so a reader that recovers first sees one complete set.
- Outputs of one command in different places (a fit's artifact and its figure) are written under
  `interrupts_deferred`: a Ctrl-C or SIGTERM arriving while they are written takes effect after the
  last one, so an interrupted command leaves all of them or none new.
- Disk full and permission errors become one-line `CurascaleError`s and leave no temp file.
- A URL (``s3://bucket/key``, ``gs://...``, any fsspec protocol) goes through the remote branch,
  `curascale.io_remote`: the same rules as far as the store allows (a temporary key moved into
  place; a set published under a journal with its marker, the top-level manifest.json, last).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import stat
import sys
from pathlib import Path
from typing import IO, Iterator, Mapping

from curascale import io_remote
from curascale.errors import CurascaleError

STDOUT = "-"
JOURNAL = ".publishing.json"


def _os_error(path: str | os.PathLike, error: OSError) -> CurascaleError:
    if error.errno is None and re.fullmatch(r"\d+ requested and \d+ written", str(error)):  # numpy's short write: the disk filled
        error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    reason = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded", errno.EACCES: "permission denied",
              errno.EPERM: "operation not permitted", errno.EROFS: "read-only file system", errno.EISDIR: "is a directory",
              errno.ENOENT: "no such file or directory", errno.ENOTDIR: "a parent is not a directory"}.get(error.errno, error.strerror or str(error))
    return CurascaleError(f"{path}: cannot write ({reason})")


def resolve_target(path: str | os.PathLike) -> tuple[Path, bool]:
    """(the file that will really be written, whether it is special: a device, FIFO or socket).

    Symbolic links are followed (a dangling link's target is created); a directory is an error.
    """
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target, False
    except OSError as error:
        raise _os_error(path, error) from None
    if stat.S_ISDIR(mode):
        raise CurascaleError(f"{path}: is a directory; give a file name")
    return target, not stat.S_ISREG(mode)


def _temporary(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write `path`'s new contents to (for writers that take a path,
    such as pyarrow, numpy or matplotlib); on success it replaces the target as described in the
    module docstring. On any error the temporary file is removed and the target is unchanged.
    A URL is written through `curascale.io_remote.atomic_path`."""
    if io_remote.is_url(path):
        with io_remote.atomic_path(path) as temporary:
            yield temporary
        return
    target, special = resolve_target(path)
    temporary = _temporary(target) if not special else Path(os.environ.get("TMPDIR", "/tmp")) / f".curascale.{os.getpid()}.{target.name}.tmp"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        yield temporary
        if special:
            with open(temporary, "rb") as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink)
        else:
            os.replace(temporary, target)
    except OSError as error:
        raise _os_error(path, error) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


@contextlib.contextmanager
def open_atomic(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open `path` for writing (text ``"w"`` or binary ``"wb"``) with the rules above; ``-`` is
    standard output."""
    if mode not in ("w", "wb"):
        raise ValueError(f"open_atomic writes with 'w' or 'wb', got {mode!r}")
    if str(path) == STDOUT:
        stream = sys.stdout if mode == "w" else sys.stdout.buffer
        yield stream
        stream.flush()
        return
    with atomic_path(path) as temporary:
        with open(temporary, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as handle:
            yield handle


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with open_atomic(path, "wb") as handle:
        handle.write(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    with open_atomic(path, "w") as handle:
        handle.write(text)


def write_json(path: str | os.PathLike, record, *, indent: int | None = 1) -> None:
    """JSON with sorted-as-given keys and a final newline; NaN is refused (it is not JSON)."""
    try:
        text = json.dumps(record, indent=indent, allow_nan=False) + "\n"
    except ValueError as error:
        raise CurascaleError(f"{path}: refusing to write a non-finite number ({error})") from None
    write_text(path, text)


def cache_directory(*parts: str) -> Path:
    """The user's cache folder for curascale: $XDG_CACHE_HOME/curascale/PARTS... (default
    ~/.cache/curascale/PARTS..., also when $XDG_CACHE_HOME is relative: the XDG Base Directory
    specification says to ignore a relative path); not created here."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "curascale", *parts)


# ---- sets of outputs ------------------------------------------------------------------------
@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM received inside the block are acted on when it ends (KeyboardInterrupt,
    or the signal's previous handler), so the outputs written inside are all written. Outside the
    main thread (where Python cannot set handlers) the block runs unprotected."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[tuple[int, object]] = []
    previous = {number: signal.signal(number, lambda number, frame: received.append((number, frame))) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if received:
            number, frame = received[0]
            handler = previous[number]
            if callable(handler):
                handler(number, frame)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(number)


def stage_path(directory: str | os.PathLike, name: str) -> Path:
    """Where to stage output `name` of `directory` before `publish_set` (beside it, same device)."""
    return Path(directory) / f".staged.{os.getpid()}.{name.replace('/', '__')}"


def publish_set(directory: str | os.PathLike, staged: Mapping[str, str | os.PathLike]) -> None:
    """Move staged files into `directory` under their final names, as one set.

    The journal (``.publishing.json``) lists every rename before the first one happens; a kill
    part-way is rolled forward by `recover_set` (called here first, and by readers). Names must
    stay inside `directory` (checked). At a URL the staged files are local and are uploaded
    (`curascale.io_remote.publish_set`: the set then also replaces the one published there)."""
    if io_remote.is_url(directory):
        return io_remote.publish_set(directory, staged)
    directory = Path(directory)
    root = directory.resolve()
    moves = {}
    for name, source in staged.items():
        final = (directory / name).resolve()
        if final != root and root not in final.parents:
            raise CurascaleError(f"output name {name!r} would leave {directory}")
        moves[str(Path(source))] = str(directory / name)
    recover_set(directory)
    try:
        write_json(directory / JOURNAL, {"moves": moves})
        recover_set(directory)
    except OSError as error:
        raise _os_error(directory, error) from None


def recover_set(directory: str | os.PathLike) -> bool:
    """Finish an interrupted `publish_set` in `directory`; True when there was one to finish."""
    if io_remote.is_url(directory):
        return io_remote.recover_set(directory)
    journal = Path(directory) / JOURNAL
    try:
        moves = json.loads(journal.read_text())["moves"]
    except FileNotFoundError:
        return False
    except (ValueError, KeyError):  # a journal cut short: its write was not renamed in, so never
        journal.unlink()
        return False
    for source, final in moves.items():
        if os.path.exists(source):
            Path(final).parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, final)
    journal.unlink()
    return True
