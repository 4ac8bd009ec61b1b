"""Pools where they live: a pool folder given as a URL (`s3://bucket/pool`, `gs://...`,
`hf://datasets/...`, `file:///...`, any protocol fsspec knows) is read through that fsspec
filesystem: the parquet shards (pyarrow reads them through it), the `.npz` beside each, and
WebDataset tars. A plain path stays on the local filesystem, read as before.

Outputs may go to a URL too: `curation.out_dir.claim` runs the engines in a local staging folder
and publishes the set there through the one writer (`curascale.io`, remote branch
`curascale.io_remote`).

Credentials and endpoints are the filesystem's own (for S3: the AWS environment variables or
config, `AWS_ENDPOINT_URL` for an S3-compatible server; for GCS: google-auth's default
credentials, `STORAGE_EMULATOR_HOST` for an emulator). `hf://` paths (`hf://datasets/ORG/NAME/...`)
are read through huggingface_hub's `HfFileSystem` (installed with open_clip; its token from
`huggingface-cli login` or `HF_TOKEN`).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from curascale.errors import UserError
from curascale.io_remote import filesystem, is_url, remote_errors  # one place that turns a URL into a filesystem (also the writer's)

__all__ = ["filesystem", "is_url", "remote_files", "opener", "size", "RemoteFile", "remote_file_list", "location"]


def location(value: str | PurePosixPath, base=None):
    """A pool or output location as given by the user: a URL stays a string, anything else is a
    local `pathlib.Path` (relative to `base` when given and relative)."""
    from pathlib import Path

    if is_url(str(value)):
        return str(value).rstrip("/")
    return Path(value) if base is None else Path(base) / value


def remote_files(url: str, pattern: str) -> tuple[object, PurePosixPath, tuple[PurePosixPath, ...]]:
    """(filesystem, folder, sorted files in the folder matching `pattern`, e.g. "*.parquet")."""
    fs, path = filesystem(url)
    folder = PurePosixPath(path.rstrip("/"))
    with remote_errors(url, "list"):
        if not fs.isdir(str(folder)):
            raise UserError(f"{url}: no such pool directory")
        found = fs.glob(f"{folder}/{pattern}")
    return fs, folder, tuple(sorted(PurePosixPath(p) for p in found))


def opener(fs):
    """`open(path, mode)` for a filesystem (None: the local one)."""
    return open if fs is None else (lambda path, mode="rb": fs.open(str(path), mode))


def size(fs, path) -> int:
    from pathlib import Path

    return Path(path).stat().st_size if fs is None else int(fs.size(str(path)))


class RemoteFile:
    """A file on an fsspec filesystem, by URL, with the bits of `pathlib.Path` the readers use
    (`name`, `stem`, `suffix`, `stat().st_size`, `open()`); pickles as its URL."""

    def __init__(self, url: str):
        self.url = str(url)

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"RemoteFile({self.url!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, RemoteFile) and other.url == self.url

    def __hash__(self) -> int:
        return hash(self.url)

    @property
    def name(self) -> str:
        return PurePosixPath(self.url.split("://", 1)[-1]).name

    @property
    def stem(self) -> str:
        return PurePosixPath(self.name).stem

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix

    def stat(self):
        from types import SimpleNamespace

        fs, path = filesystem(self.url)
        return SimpleNamespace(st_size=int(fs.size(path)))

    def open(self, mode: str = "rb"):
        fs, path = filesystem(self.url)
        return fs.open(path, mode)


def remote_file_list(url: str, pattern: str) -> list[RemoteFile]:
    """The files matching `pattern` in the folder at `url`, as `RemoteFile`s, sorted."""
    fs, _, files = remote_files(url, pattern)
    return [RemoteFile(fs.unstrip_protocol(str(path))) for path in files]
