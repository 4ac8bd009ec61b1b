"""The layout img2dataset writes for DataComp (their download_upstream.py runs it with
`oom_shard_count=8`, `save_additional_columns=["uid"]`), which DataComp's resharder reads:

- `00000000.tar`, `00000001.tar`, ...: 8-digit shard names (`shard_name`);
- sample keys: the shard's 8 digits then the sample's index in it, 4 digits (`sample_key`);
- `{shard}_stats.json` beside each tar: `count`, `successes` (what the resharder reads),
  `failed_to_download`, `failed_to_resize`, `status_dict`, and times (0 here: same bytes);
- `{shard}.parquet` beside each tar: one row per sample tried: uid, url, caption, key, status,
  error_message, width, height, original_width, original_height, sha256 (of the image bytes).
Readers (T-MARS) take any `*.tar` names, this layout's or older 5-digit ones.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa

from curascale import io

SHARD_DIGITS = 8
KEY_DIGITS = 4  # digits of the index within a shard (img2dataset: ceil(log10(samples per shard)))

PARQUET_SCHEMA = pa.schema([
    ("uid", pa.string()), ("url", pa.string()), ("caption", pa.string()), ("key", pa.string()), ("status", pa.string()),
    ("error_message", pa.string()), ("width", pa.int64()), ("height", pa.int64()), ("original_width", pa.int64()),
    ("original_height", pa.int64()), ("sha256", pa.string()),
])


def shard_name(index: int) -> str:
    return f"{index:0{SHARD_DIGITS}d}"


def sample_key(shard_index: int, offset: int) -> str:
    return f"{shard_index:0{SHARD_DIGITS}d}{offset:0{KEY_DIGITS}d}"


def write_shard_sidecars(tar_path: str | Path, samples: list[dict]) -> None:
    """The stats json and parquet beside `tar_path` for its samples (dicts with uid, url,
    caption, key, width, height, image: the encoded bytes), all written successfully."""
    tar_path = Path(tar_path)
    rows = [{"uid": s["uid"], "url": s["url"], "caption": s["caption"], "key": s["key"], "status": "success", "error_message": None,
             "width": s["width"], "height": s["height"], "original_width": s["width"], "original_height": s["height"],
             "sha256": hashlib.sha256(s["image"]).hexdigest()} for s in samples]
    table = pa.Table.from_pylist(rows, schema=PARQUET_SCHEMA)
    with io.atomic_path(tar_path.with_suffix(".parquet")) as temporary:
        import pyarrow.parquet as pq

        pq.write_table(table, temporary)
    io.write_json(tar_path.with_name(f"{tar_path.stem}_stats.json"), {
        "count": len(samples), "successes": len(samples), "failed_to_download": 0, "failed_to_resize": 0,
        "duration": 0, "start_time": 0, "end_time": 0, "status_dict": {"success": len(samples)},
    })
