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

from curation.manifest import atomic_write

WORDS = {
    "en": "a photo of the dog cat red blue house car on in with at beach city street old new small large woman man child playing sunset mountain river food plate table logo sign text poster".split(),
    "de": "ein Foto von dem Hund Katze rot blau Haus Auto am Strand Stadt Straße alt neu klein groß Frau Mann Kind spielt".split(),
    "fr": "une photo du chien chat rouge bleu maison voiture sur la plage ville rue vieux nouveau petit grand femme homme enfant".split(),
    "es": "una foto del perro gato rojo azul casa coche en la playa ciudad calle viejo nuevo pequeño grande mujer hombre niño".split(),
}
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
        "clip_b32_similarity_score": pa.array(b32),
        "clip_l14_similarity_score": pa.array(l14),
        "face_bboxes": faces,
    })


def _unit_rows(rng: np.random.Generator, rows: int, width: int) -> np.ndarray:
    values = rng.standard_normal((rows, width)).astype(np.float32)
    return values / np.linalg.norm(values, axis=1, keepdims=True)


def write_demo_pool(out_dir: str | Path, rows: int, *, shards: int = 1, with_npz: bool = False, seed: int = 0, progress=None) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = [rows // shards + (1 if i < rows % shards else 0) for i in range(shards)]
    written = []
    for index, size in enumerate(sizes):
        rng = np.random.default_rng([seed, index])
        table = demo_shard(rng, size)
        path = out_dir / f"{index:08d}.parquet"
        temporary = path.with_name(f".{path.name}.tmp")
        pq.write_table(table, temporary, compression="zstd")
        temporary.replace(path)
        if with_npz:
            import io

            buffer = io.BytesIO()
            np.savez(buffer, b32_img=_unit_rows(rng, size, 512), b32_txt=_unit_rows(rng, size, 512), l14_img=_unit_rows(rng, size, 768), l14_txt=_unit_rows(rng, size, 768))
            atomic_write(path.with_suffix(".npz"), buffer.getvalue())
        written.append(path)
        if progress:
            progress(index + 1, shards)
    return written
