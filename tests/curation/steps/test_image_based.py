"""DataComp's image_based baseline and its intersection with the CLIP-score filter, row for row
against re-statements of their rule; and the k-means that makes the pool's centroids."""

import numpy as np
import pyarrow as pa
import pytest

from curascale.errors import UserError
from curation.engines.local import LocalEngine
from curation.pool import Pool
from curation.steps import build_step
from curation.steps.image_based import caption_filter, caption_verdict, fasttext_token_count, kmeans_centroids
from datacomp_rules import fasttext_language, fasttext_tokenize, read_npz, read_pool, uid_set

pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def targets(edge_pool, tmp_path_factory):
    """Target embeddings: 40 of the pool's L/14 image embeddings, perturbed and re-normalised."""
    rng = np.random.default_rng(5)
    pool = read_npz(edge_pool, "l14_img")
    chosen = pool[rng.choice(len(pool), 40, replace=False)] + rng.normal(0, 0.01, (40, pool.shape[1])).astype(np.float32)
    path = tmp_path_factory.mktemp("targets") / "targets.npy"
    np.save(path, (chosen / np.linalg.norm(chosen, axis=1, keepdims=True)).astype(np.float32))
    return path


def datacomp_image_rule(frame, embeddings, centroids, targets):
    """DataComp's image_filter_helper: caption filter, then nearest centroid by argmax of the
    inner product, kept when some target's nearest centroid is the same."""
    target_ids = np.unique(np.argmax(targets @ centroids.T, axis=1))
    words = frame["text"].map(lambda t: len(fasttext_tokenize(t)) if isinstance(t, str) else 0)
    chars = frame["text"].map(lambda t: len(t) if isinstance(t, str) else 0)
    english = frame["text"].map(lambda t: isinstance(t, str) and fasttext_language(t) == "en")
    nearest = np.argmax(embeddings @ centroids.T, axis=1)
    return english.to_numpy() & (words > 1).to_numpy() & (chars > 5).to_numpy() & np.isin(nearest, target_ids)


def test_matches_datacomp_on_the_edge_pool(edge_pool, targets, tmp_path):
    step = build_step({"step": "image_based", "targets": str(targets), "clusters": 30, "seed": 3})
    LocalEngine(progress=False).run(Pool.open(edge_pool), [step], tmp_path)
    frame = read_pool(edge_pool)
    kept = datacomp_image_rule(frame, read_npz(edge_pool, "l14_img"), step.pool_centroids, np.load(targets))
    np.testing.assert_array_equal(np.load(tmp_path / "subset.npy"), uid_set(frame[kept]["uid"]))
    assert 0.05 < kept.mean() < 0.95


def test_intersection_with_clip_score_matches_datacomp(edge_pool, targets, tmp_path):
    np.save(tmp_path / "centroids.npy", read_npz(edge_pool, "l14_img")[::100])  # user-supplied centroids
    step = build_step({"step": "image_based_clip_score", "targets": str(targets), "centroids": str(tmp_path / "centroids.npy"), "arch": "b32", "fraction": 0.4})
    LocalEngine(progress=False).run(Pool.open(edge_pool), [step], tmp_path / "out")
    frame = read_pool(edge_pool)
    scores = frame["clip_b32_similarity_score"].to_numpy(dtype=np.float64, na_value=np.nan)
    threshold = -np.sort(-scores[~np.isnan(scores)])[int(len(frame) * 0.4)]  # DataComp's get_threshold (missing scores last)
    image = datacomp_image_rule(frame, read_npz(edge_pool, "l14_img"), np.load(tmp_path / "centroids.npy"), np.load(targets))
    kept = image & (np.nan_to_num(scores, nan=-np.inf) >= threshold)
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "subset.npy"), uid_set(frame[kept]["uid"]))
    assert 0 < kept.sum() < image.sum()


def test_caption_rule_edges():
    texts = ["a dog\non the beach", "dog\n", "photo", "a dog", "dog\u00a0cat", "ab cd", None, "un chien sur la plage"]
    assert [fasttext_token_count(t) for t in texts[:6]] == [len(fasttext_tokenize(t)) for t in texts[:6]] == [6, 2, 1, 2, 1, 2]
    # 'dog\n' has 2 tokens but 4 characters; 'ab cd' 5 characters; 'dog\u00a0cat' one fastText token
    assert caption_filter(texts, None).tolist() == [True, False, False, False, False, False, False, False]
    reasons = ["caption too short"] * 5 + ["caption missing", "language"]
    assert caption_verdict(texts, None).reason_of().tolist() == [None, *reasons]


def test_kmeans_finds_separated_clusters():
    rng = np.random.default_rng(0)
    directions = np.eye(16, dtype=np.float32)[:3]
    points = np.repeat(directions, 200, axis=0) + rng.normal(0, 0.05, (600, 16)).astype(np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    centroids = kmeans_centroids(points, 3, seed=1)
    # each true direction has one centroid within 0.01 of it (cosine), and the seed fixes the bytes
    assert np.sort((centroids @ directions.T).max(axis=0)).min() > 0.99
    np.testing.assert_array_equal(centroids, kmeans_centroids(points, 3, seed=1))
    with pytest.raises(UserError, match="clusters must be between 1 and the 600"):
        kmeans_centroids(points, 601, seed=1)


def test_bad_targets(tmp_path):
    with pytest.raises(UserError, match="needs targets"):
        build_step({"step": "image_based"})
    np.save(tmp_path / "vector.npy", np.ones(768, np.float32))
    with pytest.raises(UserError, match=r"vector.npy: expected a finite \(n, d\) matrix"):
        build_step({"step": "image_based", "targets": str(tmp_path / "vector.npy")})
    with pytest.raises(UserError, match="missing.npy: no such file"):
        build_step({"step": "image_based", "targets": str(tmp_path / "missing.npy")})


def test_keep_sees_each_rows_own_embedding(edge_pool):
    """After a take, row i's embedding is still the npz row of that sample."""
    pool = Pool.open(edge_pool)
    table = pool.read(pool.shards[1], ["uid", "l14_img"])
    rows = np.array([999, 3, 500, 0])
    taken = table.take(pa.array(rows))
    with np.load(pool.shards[1].with_suffix(".npz")) as archive:
        expected = archive["l14_img"][rows]
    got = np.stack([np.asarray(v, dtype=np.float32) for v in taken.column("l14_img").to_pylist()])
    np.testing.assert_array_equal(got, expected)


def test_a_nan_or_inf_embedding_is_faulty_data_counted_per_shard(edge_pool, targets, tmp_path):
    """A kept sample whose L/14 embedding turns NaN (and another whose turns inf) is dropped as
    faulty data, reported in the integrity list of its shard like a null score, not silently."""
    import json
    import shutil

    np.save(tmp_path / "centroids.npy", read_npz(edge_pool, "l14_img")[::100])
    step = {"step": "image_based", "targets": str(targets), "centroids": str(tmp_path / "centroids.npy")}
    LocalEngine(progress=False).run(Pool.open(edge_pool), [build_step(step)], tmp_path / "clean")
    kept = {tuple(pair) for pair in np.load(tmp_path / "clean" / "subset.npy").tolist()}
    shutil.copytree(edge_pool, tmp_path / "pool")
    shard = sorted((tmp_path / "pool").glob("*.parquet"))[1]
    frame = read_pool(tmp_path / "pool")
    uids = frame["uid"].tolist()[1000:2000]  # the second shard's rows (1,000 per shard)
    rows = [i for i, uid in enumerate(uids) if tuple(uid_set([uid])[0].tolist()) in kept][:2]
    arrays = dict(np.load(shard.with_suffix(".npz")))
    arrays["l14_img"] = arrays["l14_img"].copy()
    arrays["l14_img"][rows[0], 5] = np.nan
    arrays["l14_img"][rows[1], 0] = np.inf
    np.savez(shard.with_suffix(".npz"), **arrays)
    LocalEngine(progress=False).run(Pool.open(tmp_path / "pool"), [build_step(step)], tmp_path / "faulty")
    expected = kept - {tuple(uid_set([uids[i]])[0].tolist()) for i in rows}
    assert {tuple(pair) for pair in np.load(tmp_path / "faulty" / "subset.npy").tolist()} == expected
    sidecar = json.loads((tmp_path / "faulty" / "manifest.json").read_text())
    assert {"shard": shard.name, "step": "image_based", "reason": "embedding not finite", "rows": 2} in sidecar["integrity"]
    assert "faulty-rows" in [note["code"] for note in sidecar["notes"]]
