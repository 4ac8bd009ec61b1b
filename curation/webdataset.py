"""WebDataset tar shards in the img2dataset / DataComp layout: members `{key}.jpg|png|webp`,
`{key}.txt` (the caption) and `{key}.json` (the uid, url, and any precomputed CLIP scores), the
members of one sample consecutive. The key is the member name up to its first dot.

`read_shard` never raises on bad content: a sample without a uid, caption or image, and the rest
of a truncated or corrupt tar, come back as errors to count and skip.
"""

from __future__ import annotations

import contextlib
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from curation.scores import CLIP_SCORE_COLUMNS

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp")
CARRIED_SCORES = tuple(CLIP_SCORE_COLUMNS.values())


@dataclass
class ShardSamples:
    """One shard's samples in file order, as columns (a batch), and its unreadable samples."""

    path: Path
    columns: dict[str, list] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)  # {"shard", "key", "uid", "error"}

    @property
    def count(self) -> int:
        return len(self.columns.get("key", []))


def shard_paths(root: str | Path) -> list[Path]:
    """The `.tar` shards of a folder (or one tar), local or at a URL (`RemoteFile`s)."""
    from curation.fs import RemoteFile, is_url, remote_file_list

    if is_url(root):  # a folder on an fsspec filesystem (or one tar there)
        return [RemoteFile(root)] if str(root).endswith(".tar") else remote_file_list(root, "*.tar") or _none_found(root)
    root = Path(root)
    if root.is_file() and root.suffix == ".tar":
        return [root]
    paths = sorted(root.glob("*.tar")) if root.is_dir() else []
    return paths or _none_found(root)


def _none_found(root):
    from curascale.errors import UserError

    raise UserError(f"{root}: no WebDataset .tar shards found")


def _grouped(path: Path):
    """(key, {extension: bytes}) per sample, in file order; raises tarfile/OSError on damage."""
    key, members = None, {}
    with contextlib.ExitStack() as stack:
        handle = stack.enter_context(path.open("rb")) if hasattr(path, "url") else None  # a RemoteFile
        tar = stack.enter_context(tarfile.open(None if handle else path, fileobj=handle, mode="r:*"))
        for info in tar:
            if not info.isfile():
                continue
            name = info.name.rsplit("/", 1)[-1]
            stem, _, extension = name.partition(".")
            if stem != key and key is not None:
                yield key, members
                members = {}
            key = stem
            members[extension.lower()] = tar.extractfile(info).read()
    if key is not None:
        yield key, members


def _sample(shard: str, key: str, members: dict[str, bytes]) -> tuple[dict | None, str | None]:
    try:
        meta = json.loads(members["json"]) if "json" in members else {}
    except (ValueError, UnicodeDecodeError):
        return None, "unreadable json"
    uid = meta.get("uid")
    image = next((members[e] for e in IMAGE_EXTENSIONS if e in members), None)
    caption = members["txt"].decode("utf-8", errors="replace") if "txt" in members else meta.get("caption")
    problem = "no uid in its json" if not uid else "no image member" if image is None else "no caption" if caption is None else None
    if problem:
        return {"uid": uid}, problem
    row = {"shard": shard, "key": key, "uid": str(uid), "url": str(meta.get("url") or ""), "text": caption, "image_bytes": image}
    for column in CARRIED_SCORES:
        value = meta.get(column)
        row[column] = None if value is None else float(value)
    return row, None


def read_shard(path: str | Path) -> ShardSamples:
    """One shard's samples; `path` may be a URL or `RemoteFile` (curation/fs.py)."""
    from curation.fs import RemoteFile, is_url

    path = path if isinstance(path, RemoteFile) else RemoteFile(path) if is_url(path) else Path(path)
    result = ShardSamples(path=path, columns={name: [] for name in ("shard", "key", "uid", "url", "text", "image_bytes", *CARRIED_SCORES)})
    try:
        for key, members in _grouped(path):
            row, problem = _sample(path.name, key, members)
            if problem:
                result.errors.append({"shard": path.name, "key": key, "uid": (row or {}).get("uid"), "error": problem})
                continue
            for name, value in row.items():
                result.columns[name].append(value)
    except (tarfile.TarError, OSError, EOFError) as error:
        result.errors.append({"shard": path.name, "key": None, "uid": None, "error": f"shard unreadable after {result.count} samples: {error}"})
    return result


def chunks(columns: dict[str, list], size: int) -> list[dict[str, list]]:
    """Consecutive batches of `size` samples (the last shorter): the same chunks in every engine,
    so batched model outputs do not depend on how an engine groups work."""
    count = len(next(iter(columns.values()), []))
    return [{name: values[start : start + size] for name, values in columns.items()} for start in range(0, count, size)]
