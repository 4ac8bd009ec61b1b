"""DataComp's `image_based` baseline (apply_filter.py, `load_uids_with_image_filter`), and
`image_based_clip_score`, its intersection with the CLIP-score filter.

Rule, per sample:
1. caption pre-filter (`caption_filter`): more than 1 fastText token, more than 5 characters,
   and English (fastText lid.176 top-1, newlines folded);
2. the sample's CLIP ViT-L/14 image embedding (`l14_img` in the shard's .npz) is assigned to
   its nearest pool centroid, nearest meaning the largest inner product (argmax of
   embedding . centroid, as DataComp's `get_centroid_ids_gpu`);
3. keep it when that centroid is the nearest centroid of at least one target embedding (DataComp:
   the ImageNet-1k training images' L/14 embeddings; here any (n, 768) `.npy` the user supplies).
   An embedding holding NaN or inf is faulty data, not a sample judged: it is dropped for
   "embedding not finite", counted per shard in the manifest's integrity like a null score.

Centroids: DataComp ships k-means centroids of each pool's L/14 image embeddings (100,000 for
small and medium); `centroids=FILE.npy` uses such a (k, 768) matrix, otherwise they are computed
here in the prepare pass with faiss-cpu's k-means (spherical, `clusters` centroids, `seed`), on
at most `clusters * max_points_per_centroid` embeddings drawn uniformly (seeded) from the pool,
so memory is bounded by the sample, not by the pool.

fastText tokens: DataComp counts `fasttext.tokenize(text)`: fastText's Dictionary::readWord
splits on the bytes space, \\n, \\r, \\t, \\v, \\f and \\0 and emits one end-of-sentence token per
newline; `fasttext_token_count` re-states that (the installed `fasttext-predict` lacks tokenize).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from curascale.errors import UserError
from curation.embeddings import EMBEDDING_FAULT, embedding_matrix, finite_rows
from curation.steps.base import Filter, Scan, Verdict, refine
from curation.steps.basic import default_lid_model
from curation.steps.clip_score import ClipScore
from curation.steps.laion2b import english

EMBEDDING = "l14_img"
_FASTTEXT_SPACE = re.compile("[ \n\r\t\v\f\0]+")


def fasttext_token_count(text: str) -> int:
    """len(fasttext.tokenize(text)): whitespace-separated words plus one `</s>` per newline."""
    return sum(1 for word in _FASTTEXT_SPACE.split(text) if word) + text.count("\n")


CAPTION_REASONS = ("caption missing", "caption too short", "language")
CLUSTER_REASON = "image outside the targets' clusters"
IMAGE_REASONS = (EMBEDDING_FAULT, CLUSTER_REASON)  # a NaN/inf embedding is faulty data, never assigned a cluster


def caption_verdict(texts: list, lid_model: str | None, language: str = "en") -> Verdict:
    """DataComp's image-based caption pre-filter: > 1 fastText token, > 5 characters, English;
    each dropped caption carries its rule (`CAPTION_REASONS`, the first it fails)."""
    codes = np.array([1 if t is None else 0 if fasttext_token_count(t) > 1 and len(t) > 5 else 2 for t in texts], dtype=np.uint8)
    rows = np.flatnonzero(codes == 0)
    if rows.size:
        codes[rows[~english([texts[i] for i in rows], lid_model, language)]] = 3
    return Verdict(codes, CAPTION_REASONS)


def caption_filter(texts: list, lid_model: str | None, language: str = "en") -> np.ndarray:
    """The rows `caption_verdict` keeps."""
    return caption_verdict(texts, lid_model, language).kept


def nearest_centroid(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the centroid with the largest inner product, for each row of `vectors`
    (shapes (n, d) and (k, d), float32); exact search (faiss IndexFlatIP)."""
    import faiss

    index = faiss.IndexFlatIP(centroids.shape[1])
    index.add(np.ascontiguousarray(centroids, dtype=np.float32))
    _, found = index.search(np.ascontiguousarray(vectors, dtype=np.float32), 1)
    return found[:, 0]


def _load_matrix(path: str, what: str, width: int | None = None) -> np.ndarray:
    try:
        matrix = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UserError(f"{what} {path}: no such file") from None
    except (OSError, ValueError) as error:
        raise UserError(f"{what} {path}: not a readable .npy matrix ({str(error).splitlines()[0]})") from None
    if matrix.ndim != 2 or (width is not None and matrix.shape[1] != width) or not np.isfinite(matrix).all():
        raise UserError(f"{what} {path}: expected a finite (n, {width or 'd'}) matrix, got shape {matrix.shape}")
    return np.ascontiguousarray(matrix, dtype=np.float32)


def kmeans_centroids(sample: np.ndarray, clusters: int, seed: int, iterations: int = 20) -> np.ndarray:
    """Spherical k-means centroids (clusters, d) of the rows of `sample` (faiss-cpu)."""
    import faiss

    if not 1 <= clusters <= len(sample):
        raise UserError(f"clusters must be between 1 and the {len(sample):,} sampled embeddings, got {clusters}")
    kmeans = faiss.Kmeans(sample.shape[1], clusters, niter=iterations, seed=seed, spherical=True, max_points_per_centroid=len(sample), verbose=False)
    kmeans.train(np.ascontiguousarray(sample, dtype=np.float32))
    return np.asarray(kmeans.centroids, dtype=np.float32)


@dataclass
class ImageBased(Filter):
    targets: str = ""
    centroids: str | None = None
    clusters: int = 100_000
    max_points_per_centroid: int = 256
    seed: int = 0
    lid_model: str | None = None
    language: str = "en"
    rows: int = 0  # pool rows, set by the engine before prepare()
    name: str = field(init=False, default="image_based")

    def __post_init__(self):
        if not self.targets:
            raise UserError(f"{self.name} needs targets: a .npy of target L/14 image embeddings (e.g. ImageNet-1k's)")
        self.target_matrix = _load_matrix(self.targets, "targets")
        self.pool_centroids = None if self.centroids is None else _load_matrix(self.centroids, "centroids", self.target_matrix.shape[1])
        self.target_centroids: np.ndarray | None = None

    @property
    def columns(self):
        return ("text", EMBEDDING)

    def sample_embeddings(self, scan: Scan) -> np.ndarray:
        """At most clusters * max_points_per_centroid pool embeddings, each row drawn with the same
        probability (seeded per shard, so the sample does not depend on threads)."""
        share = min(1.0, self.clusters * self.max_points_per_centroid / max(self.rows, 1))
        parts = []
        for index, table in enumerate(scan((EMBEDDING,))):
            matrix = embedding_matrix(table.column(EMBEDDING))
            matrix = matrix if share >= 1 else matrix[np.random.default_rng([self.seed, index]).random(len(matrix)) < share]
            parts.append(matrix[finite_rows(matrix)])  # a NaN/inf row is faulty data (judge reports it), not a point to cluster
        return np.concatenate(parts) if parts else np.empty((0, self.target_matrix.shape[1]), np.float32)

    def prepare(self, scan: Scan) -> None:
        if self.pool_centroids is None:
            self.pool_centroids = kmeans_centroids(self.sample_embeddings(scan), self.clusters, self.seed)
        if self.pool_centroids.shape[1] != self.target_matrix.shape[1]:
            raise UserError(f"targets {self.targets}: {self.target_matrix.shape[1]} wide, but the pool's {EMBEDDING} embeddings are {self.pool_centroids.shape[1]} wide")
        self.target_centroids = np.unique(nearest_centroid(self.target_matrix, self.pool_centroids))

    def judge(self, table: pa.Table) -> Verdict:
        """The caption rules (`CAPTION_REASONS`), then the image's cluster on the rows they kept."""
        verdict = caption_verdict(table.column("text").to_pylist(), self.lid_model, self.language)
        rows = np.flatnonzero(verdict.kept)
        codes = np.zeros(rows.size, dtype=np.uint8)
        if rows.size:
            vectors = embedding_matrix(table.column(EMBEDDING).take(pa.array(rows)))
            finite = finite_rows(vectors)
            codes[~finite] = 1
            near = np.isin(nearest_centroid(vectors[finite], self.pool_centroids), self.target_centroids)
            codes[np.flatnonzero(finite)[~near]] = 2
        return refine(verdict, rows, Verdict(codes, IMAGE_REASONS))

    def describe(self) -> dict:
        return {"step": self.name, "targets": Path(self.targets).name, "target_rows": len(self.target_matrix),
                "centroids": Path(self.centroids).name if self.centroids else None, "clusters": len(self.pool_centroids) if self.pool_centroids is not None else self.clusters,
                "seed": self.seed, "language": self.language, "lid_model": Path(self.lid_model or default_lid_model()).name}


@dataclass
class ImageBasedClipScore(ImageBased):
    """`image_based` on the samples that pass DataComp's CLIP-score filter (`arch`, and one of
    `threshold` or `fraction`, the fraction taken over the whole pool as in DataComp)."""

    arch: str = "l14"
    threshold: float | None = None
    fraction: float | None = None
    name: str = field(init=False, default="image_based_clip_score")

    def __post_init__(self):
        self.score = ClipScore(arch=self.arch, threshold=self.threshold, fraction=self.fraction)
        super().__post_init__()

    @property
    def columns(self):
        return (*super().columns, *self.score.columns)

    @property
    def manifest_columns(self):
        return self.score.manifest_columns

    def prepare(self, scan: Scan) -> None:
        self.score.rows = self.rows
        self.score.prepare(scan)
        super().prepare(scan)

    def judge(self, table: pa.Table) -> Verdict:
        """The CLIP-score rule first (its reasons: null, out-of-range and low scores), then
        `image_based` on the rows it kept."""
        verdict = self.score.judge(table)
        rows = np.flatnonzero(verdict.kept)
        return refine(verdict, rows, super().judge(table.take(pa.array(rows, type=pa.int64()))))

    def describe(self) -> dict:
        return {**super().describe(), **{k: v for k, v in self.score.describe().items() if k != "step"}}
