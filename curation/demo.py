"""A realistic synthetic DataComp pool for demos, tests and benchmarks.

Random 128-bit uids; captions of varied length and language (some too short for the basic
filter); image sizes from a log-normal with some small or extreme-aspect images; CLIP B/32 and
L/14 scores with DataComp's spread (L/14 correlated with B/32); face boxes on a share of rows;
optional `.npz` embeddings (L2-normalised float32, 512 and 768 wide) beside each shard.
Everything follows from `seed`: the same arguments write the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curascale import io as writer
from curascale.errors import CurascaleError
from curation.manifest import atomic_write
from curation.scores import CLIP_SCORE_COLUMNS

WORDS = {
    "en": "a photo of the dog cat red blue house car on in with at beach city street old new small large woman man child playing sunset mountain river food plate table logo sign text poster".split(),
    "de": "ein Foto von dem Hund Katze rot blau Haus Auto am Strand Stadt Straße alt neu klein groß Frau Mann Kind spielt".split(),
    "fr": "une photo du chien chat rouge bleu maison voiture sur la plage ville rue vieux nouveau petit grand femme homme enfant".split(),
    "es": "una foto del perro gato rojo azul casa coche en la playa ciudad calle viejo nuevo pequeño grande mujer hombre niño".split(),
}
SCORES = tuple(CLIP_SCORE_COLUMNS.values())
LANGUAGE_SHARES = {"en": 0.6, "de": 0.15, "fr": 0.15, "es": 0.1}


def _captions(rng: np.random.Generator, count: int, distinct: int = 4096) -> pa.Array:
    """Captions of varied length and language: `distinct` generated ones, drawn with repetition
    (web captions repeat too), so large pools generate fast."""
    distinct = min(distinct, count)
    languages = rng.choice(list(LANGUAGE_SHARES), size=distinct, p=list(LANGUAGE_SHARES.values()))
    lengths = np.clip(rng.lognormal(2.0, 0.6, size=distinct).astype(int), 1, 40)
    vocabulary = pa.array([" ".join(rng.choice(WORDS[language], size=length)) for language, length in zip(languages, lengths)], pa.string())
    return vocabulary.take(pa.array(rng.integers(0, distinct, size=count)))


def _hex_strings(rng: np.random.Generator, count: int, width: int) -> pa.Array:
    """`count` random lowercase hex strings of `width` digits, built without a Python loop."""
    text = rng.bytes(count * width // 2).hex().encode()
    offsets = pa.py_buffer(np.arange(0, count * width + 1, width, dtype=np.int32).tobytes())
    return pa.StringArray.from_buffers(count, offsets, pa.py_buffer(text))


def demo_shard(rng: np.random.Generator, rows: int) -> pa.Table:
    import pyarrow.compute as pc

    uid = _hex_strings(rng, rows, 32)
    side = np.exp(rng.normal(np.log(400), 0.6, size=rows))
    aspect = np.exp(rng.normal(0, 0.45, size=rows))
    width = np.maximum(16, side * np.sqrt(aspect)).astype(np.int64)
    height = np.maximum(16, side / np.sqrt(aspect)).astype(np.int64)
    b32 = np.clip(rng.normal(0.29, 0.045, size=rows), 0.0, 0.5).astype(np.float32)
    l14 = np.clip(0.8 * (b32 - 0.29) + 0.27 + rng.normal(0, 0.03, size=rows), 0.0, 0.5).astype(np.float32)
    faces_per_row = np.where(rng.random(rows) < 0.15, rng.integers(1, 3, size=rows), 0)
    face_offsets = np.concatenate([[0], np.cumsum(faces_per_row)]).astype(np.int32)
    boxes = pa.FixedSizeListArray.from_arrays(pa.array(rng.uniform(0, 1, size=4 * int(face_offsets[-1]))), 4)
    faces = pa.ListArray.from_arrays(pa.array(face_offsets), pa.ListArray.from_arrays(pa.array(np.arange(0, 4 * int(face_offsets[-1]) + 1, 4, dtype=np.int32)), boxes.flatten()))
    return pa.table({
        "uid": uid,
        "url": pc.binary_join_element_wise("https://images.example/", uid, ".jpg", ""),
        "text": _captions(rng, rows),
        "original_width": pa.array(width),
        "original_height": pa.array(height),
        "sha256": _hex_strings(rng, rows, 64),
        CLIP_SCORE_COLUMNS["b32"]: pa.array(b32),
        CLIP_SCORE_COLUMNS["l14"]: pa.array(l14),
        "face_bboxes": faces,
    })


def _unit_rows(rng: np.random.Generator, rows: int, width: int) -> np.ndarray:
    values = rng.standard_normal((rows, width)).astype(np.float32)
    return values / np.linalg.norm(values, axis=1, keepdims=True)


POOL_FILES = (".parquet", ".npz")
IMAGE_FILES = (".tar", ".parquet")  # img2dataset's layout: each tar with its parquet and _stats.json


def _image_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink() and (path.suffix in IMAGE_FILES or path.name.endswith("_stats.json"))


def clear_pool_folder(out_dir: Path, overwrite: bool) -> None:
    """Make `out_dir` ready for a new pool: it must be empty, or (with `overwrite`) hold only an
    earlier pool's files (parquet shards, .npz embeddings, images/ with WebDataset tars in
    img2dataset's layout), which are
    removed. Anything else in it is an error naming the file: a pool over another pool would mix
    their shards, and clearing must never delete files that are not a pool's."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise CurascaleError(f"{out_dir}: not a folder")
    entries = sorted(out_dir.iterdir())
    if not entries:
        return
    if not overwrite:
        raise CurascaleError(f"{out_dir}: not empty ({len(entries)} entries, e.g. {entries[0].name}); pass overwrite to replace an earlier pool, or choose an empty folder")
    images = out_dir / "images"
    for entry in entries:
        pool_file = entry.is_file() and not entry.is_symlink() and (entry.suffix in POOL_FILES or (entry.name.startswith(".") and entry.suffix == ".tmp"))
        image_folder = entry == images and entry.is_dir() and not entry.is_symlink() and all(_image_file(f) for f in entry.iterdir())
        if not (pool_file or image_folder):
            raise CurascaleError(f"{entry}: not a file of a pool; refusing to clear {out_dir} (remove it yourself, or choose another folder)")
    for entry in entries:
        if entry == images:
            for tar in entry.iterdir():
                tar.unlink()
            entry.rmdir()
        else:
            entry.unlink()


def write_demo_pool(out_dir: str | Path, rows: int, *, shards: int = 1, with_npz: bool = False, seed: int = 0, progress=None, overwrite: bool = False) -> list[Path]:
    """Write a demo pool of `rows` samples in `shards` parquet shards to `out_dir`, which must be
    empty or absent (with `overwrite`: an earlier pool, cleared first; see `clear_pool_folder`)."""
    out_dir = Path(out_dir)
    clear_pool_folder(out_dir, overwrite)
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = [rows // shards + (1 if i < rows % shards else 0) for i in range(shards)]
    written = []
    for index, size in enumerate(sizes):
        rng = np.random.default_rng([seed, index])
        table = demo_shard(rng, size)
        path = out_dir / f"{index:08d}.parquet"
        with writer.atomic_path(path) as temporary:
            pq.write_table(table, temporary, compression="zstd")
        if with_npz:
            import io

            buffer = io.BytesIO()
            np.savez(buffer, b32_img=_unit_rows(rng, size, 512), b32_txt=_unit_rows(rng, size, 512), l14_img=_unit_rows(rng, size, 768), l14_txt=_unit_rows(rng, size, 768))
            atomic_write(path.with_suffix(".npz"), buffer.getvalue())
        written.append(path)
        if progress:
            progress(index + 1, shards)
    return written


# ---- images (WebDataset shards in the img2dataset / DataComp layout) ---------------------------
def _render_image(rng: np.random.Generator, caption: str, size: int, text_share: float):
    """A picture of random shapes; with probability `text_share`, words of the caption rendered on
    it, covering part of the image (a small label) or most of it (a poster). Returns the JPEG bytes
    and the rendered text boxes [x0, y0, x1, y1] in pixels."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    background = tuple(int(v) for v in rng.integers(0, 256, 3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(2, 6))):
        x0, y0 = rng.integers(0, size - 20, 2)
        x1, y1 = np.array([x0, y0]) + rng.integers(10, size // 2, 2)
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([int(x0), int(y0), int(x1), int(y1)], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    boxes = []
    if rng.random() < text_share:
        words = caption.split()[:3] or ["TEXT"]
        poster = rng.random() < 0.4
        font = ImageFont.load_default(size=int(size * (0.16 if poster else 0.09)))
        lines = [" ".join(words[: max(1, len(words) // 2)]), " ".join(words[max(1, len(words) // 2):])] if poster else [" ".join(words)]
        y = int(size * (0.2 if poster else rng.uniform(0.05, 0.8)))
        color = tuple(255 - c for c in background)
        for line in filter(None, lines):
            x = int(rng.integers(2, max(3, size // 6)))
            box = draw.textbbox((x, y), line, font=font)
            if box[2] >= size:  # keep the text inside the image
                continue
            draw.text((x, y), line, font=font, fill=color)
            boxes.append([int(v) for v in box])
            y = box[3] + int(size * 0.05)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue(), boxes


def write_demo_images(pool_dir: str | Path, out_dir: str | Path, count: int, *, per_shard: int = 1000, size: int = 224, text_share: float = 0.5, seed: int = 0) -> list[Path]:
    """WebDataset tar shards of `count` images for the first `count` samples of the pool, in
    img2dataset's layout (curation/img2dataset.py: 00000000.tar with its _stats.json and
    .parquet): {key}.jpg, {key}.txt (the caption) and {key}.json (uid, url, caption, the pool's
    CLIP scores, and the rendered `text_boxes` [x0, y0, x1, y1] in pixels)."""
    import io
    import json
    import tarfile

    from curation.img2dataset import sample_key, shard_name, write_shard_sidecars

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for shard in sorted(Path(pool_dir).glob("*.parquet")):
        rows += pq.read_table(shard, columns=["uid", "url", "text", *SCORES]).to_pylist()
        if len(rows) >= count:
            break
    written = []
    for shard_index, start in enumerate(range(0, min(count, len(rows)), per_shard)):
        rng = np.random.default_rng([seed, 1_000_003, shard_index])
        buffer, samples = io.BytesIO(), []
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for offset, row in enumerate(rows[start : min(count, start + per_shard)]):
                key = sample_key(shard_index, offset)
                jpeg, boxes = _render_image(rng, row["text"], size, text_share)
                samples.append({"uid": row["uid"], "url": row["url"], "caption": row["text"], "key": key, "width": size, "height": size, "image": jpeg})
                meta = {**row, "key": key, "caption": row.pop("text"), "text_boxes": boxes}
                members = {"jpg": jpeg, "txt": meta["caption"].encode(), "json": json.dumps(meta, sort_keys=True).encode()}
                for extension, data in members.items():
                    info = tarfile.TarInfo(f"{key}.{extension}")
                    info.size, info.mtime, info.mode = len(data), 0, 0o644
                    tar.addfile(info, io.BytesIO(data))
        path = out_dir / f"{shard_name(shard_index)}.tar"
        atomic_write(path, buffer.getvalue())
        write_shard_sidecars(path, samples)
        written.append(path)
    return written
