"""The one writer's remote branch (`curascale.io` dispatches here for a URL: ``s3://``,
``gs://``, ``memory://``, any protocol fsspec knows).

The same guarantees as the local writer, as far as an object store allows:
- A file is uploaded to a temporary key beside it (``.NAME.PID.tmp``) and then moved (copied
  and deleted: object stores have no rename) to its key. On S3 and GCS a single object appears
  whole or not at all, so a reader sees the old object or the new one.
- A set of outputs (a subset, its manifest, its sidecar, bucket folders, scores) is published
  together: every file is uploaded under ``.staged.TOKEN/``, then a journal
  (``.publishing.json``, one object) lists the moves; the set's marker (the top-level
  ``manifest.json``) is deleted first and moved in last, so a folder holding a marker holds the
  complete set it describes (its sha256 checks every output). An interrupted publish is rolled
  forward by `recover_set` (called first by every publish, and by the output folder's claim).
- A new set replaces the old one: the folder's index (``.curascale-set.json``) names the files
  of the set last published there, and those the new set lacks are deleted.
- One machine writes one remote folder at a time (the local lock is per machine; object stores
  have no lock a reader and a writer share).
- Errors (a missing bucket, no credentials, a refused write, a missing driver) are one-line
  `CurascaleError`s naming the URL.

Credentials and endpoints are the filesystem's own (S3: the AWS environment variables or config,
``AWS_ENDPOINT_URL`` for an S3-compatible server; GCS: google-auth's default credentials,
``STORAGE_EMULATOR_HOST`` for an emulator; ``hf://``: huggingface_hub's token).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import uuid
from pathlib import Path, PurePosixPath
from typing import Iterator, Mapping

from curascale.errors import CurascaleError

JOURNAL = ".publishing.json"
INDEX = ".curascale-set.json"
MARKER = "manifest.json"
STAGED = ".staged."
DRIVERS = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "hf": "huggingface_hub", "az": "adlfs", "abfs": "adlfs"}


def is_url(location) -> bool:
    """True for a location with a protocol (``s3://bucket/dir``); plain paths are local."""
    return isinstance(location, str) and "://" in location


def protocol(url: str) -> str:
    return url.split("://", 1)[0].lower()


def filesystem(url: str):
    """(fsspec filesystem, path inside it) of `url`. An unknown protocol or a driver that is not
    installed is one line naming the URL and the package to install."""
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError:
        package = DRIVERS.get(protocol(url), "the fsspec driver of this protocol")
        raise CurascaleError(f"{url}: cannot open this filesystem ({protocol(url)}:// needs the package {package}; pip install {package})") from None
    except ValueError as error:
        raise CurascaleError(f"{url}: cannot open this filesystem ({str(error).splitlines()[0]})") from None
    if protocol(url) == "hf" and hub_offline():
        # offline, HfFileSystem answers "not a folder" for everything: say why instead
        raise CurascaleError(f"{url}: cannot read (HF_HUB_OFFLINE is set, so the Hugging Face Hub is not asked; unset it, or copy the pool to a local folder)")
    return fs, path


def hub_offline() -> bool:
    """True when huggingface_hub is told to stay offline (HF_HUB_OFFLINE, its truthy spellings)."""
    import os

    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def error(url: str, problem: BaseException, doing: str = "write") -> CurascaleError:
    """One line for a failed remote operation: the URL, what was done and why, never a trace."""
    name = type(problem).__name__
    text = str(problem).splitlines()[0] if str(problem) else name
    if isinstance(problem, FileNotFoundError):
        reason = f"not found: {text}"
    elif isinstance(problem, PermissionError) or "AccessDenied" in text or "Forbidden" in text:
        reason = f"permission denied: {text}"
    elif "Credentials" in name or "credentials" in text.lower():
        reason = f"no credentials: {text} (set the store's credentials, e.g. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for s3://)"
    else:
        reason = f"{name}: {text}"
    return CurascaleError(f"{url}: cannot {doing} ({reason})")


@contextlib.contextmanager
def remote_errors(url: str, doing: str = "write") -> Iterator[None]:
    """Turn the store's errors (OSError, botocore's, google's) into one line naming `url`."""
    try:
        yield
    except CurascaleError:
        raise
    except Exception as problem:  # the drivers raise their own types (botocore, google.api_core)
        raise error(url, problem, doing) from None


def check_folder(url: str) -> None:
    """Fail early, in one line, when the bucket of output folder `url` is missing or the store
    refuses us (no credentials, no permission): before any work is done."""
    fs, path = filesystem(url)
    bucket = path.strip("/").split("/", 1)[0]
    if path.startswith("/") or not bucket:  # a filesystem with a root, not buckets (file://, memory://)
        return
    with remote_errors(url, "write"):
        try:
            fs.info(bucket)  # not exists(): it answers False for a refusal too
        except FileNotFoundError:
            raise CurascaleError(f"{url}: cannot write (no such bucket: {bucket})") from None


def _move(fs, source: str, final: str) -> None:
    """Copy `source` over `final`, then delete `source` (object stores have no rename; a server-side
    copy is one request and `final` changes whole; some drivers' `mv` needs APIs emulators lack)."""
    fs.copy(source, final)
    fs.rm_file(source)


def _join(root: str, name: str) -> str:
    return f"{root.rstrip('/')}/{name}"


def _checked_name(url: str, name: str) -> str:
    parts = PurePosixPath(name).parts
    if not parts or PurePosixPath(name).is_absolute() or ".." in parts:
        raise CurascaleError(f"output name {name!r} would leave {url}")
    return str(PurePosixPath(name))


@contextlib.contextmanager
def atomic_path(url: str) -> Iterator[Path]:
    """Yield a local temporary path to write `url`'s new contents to; on success it is uploaded
    to a temporary key beside `url` and moved into place. On any error `url` is unchanged."""
    fs, path = filesystem(url)
    final = PurePosixPath(path)
    temporary_key = str(final.with_name(f".{final.name}.{os.getpid()}.tmp"))
    with tempfile.TemporaryDirectory(prefix="curascale-upload-") as folder:
        local = Path(folder) / final.name
        yield local
        with remote_errors(url):
            try:
                fs.put_file(str(local), temporary_key)
                _move(fs, temporary_key, str(final))
            finally:
                with contextlib.suppress(Exception):
                    if fs.exists(temporary_key):
                        fs.rm_file(temporary_key)


def _read_json(fs, key: str):
    try:
        with fs.open(key, "rb") as handle:
            return json.loads(handle.read())
    except FileNotFoundError:
        return None
    except ValueError:  # cut short: objects appear whole, so only a foreign file; treat as absent
        return None


def _put_json(fs, key: str, record) -> None:
    fs.pipe_file(key, (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())


def published_names(url: str) -> list[str]:
    """The files of the set last published at `url` (its index), relative to it."""
    fs, root = filesystem(url)
    with remote_errors(url, "read"):
        record = _read_json(fs, _join(root, INDEX))
    return list(record["set"]) if isinstance(record, dict) and isinstance(record.get("set"), list) else []


def publish_set(url: str, staged: Mapping[str, str | os.PathLike]) -> None:
    """Upload local files `staged` (final name relative to `url` -> local path) and publish them
    at `url` as one set that replaces the set published there before (see the module docstring).
    Errors: `CurascaleError` naming the URL; the local files are left as they were."""
    names = {_checked_name(url, name): Path(source) for name, source in staged.items()}
    if not names:
        raise CurascaleError(f"{url}: nothing to publish")
    fs, root = filesystem(url)
    recover_set(url)
    marker = MARKER if MARKER in names else sorted(names)[-1]
    order = [name for name in sorted(names) if name != marker] + [marker]
    folder = _join(root, f"{STAGED}{os.getpid()}-{uuid.uuid4().hex[:12]}")
    with remote_errors(url):
        moves = []
        for name in order:
            fs.put_file(str(names[name]), _join(folder, name))
            moves.append([_join(folder, name), _join(root, name)])
        journal = {"moves": moves, "marker": _join(root, marker), "remove": sorted(set(published_names(url)) - set(names)), "set": order,
                   "staged": folder}
        _put_json(fs, _join(root, JOURNAL), journal)
    recover_set(url)


def recover_set(url: str) -> bool:
    """Finish an interrupted `publish_set` at `url` (roll it forward); without a journal, remove
    files staged by a publish that died before writing one. True when there was one to finish."""
    fs, root = filesystem(url)
    with remote_errors(url):
        journal = _read_json(fs, _join(root, JOURNAL))
        if not isinstance(journal, dict) or "moves" not in journal:
            for stale in fs.glob(_join(root, f"{STAGED}*")):
                fs.rm(stale, recursive=True)
            return False
        moves, marker = journal["moves"], journal["marker"]
        if fs.exists(moves[-1][0]) and fs.exists(marker):
            fs.rm_file(marker)  # the old set stops claiming to be complete before any file changes
        for source, final in moves[:-1]:
            if fs.exists(source):
                _move(fs, source, final)
        for name in journal["remove"]:
            key = _join(root, name)
            if fs.exists(key):
                fs.rm_file(key)
        _put_json(fs, _join(root, INDEX), {"set": journal["set"]})
        if fs.exists(moves[-1][0]):
            _move(fs, moves[-1][0], moves[-1][1])
        fs.rm_file(_join(root, JOURNAL))
        with contextlib.suppress(FileNotFoundError):
            fs.rm(journal["staged"], recursive=True)
    return True
