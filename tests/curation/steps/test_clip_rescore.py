"""CLIP re-scoring without pretrained weights: a small shipped config with seeded random weights."""

import numpy as np
import pytest

pytest.importorskip("open_clip")

from curation.steps import clip_rescore  # noqa: E402
from curation.steps.clip_rescore import ClipRescore  # noqa: E402
from curascale.errors import UserError  # noqa: E402

TINY = {"model": "curascale-tiny-clip", "pretrained": None, "device": "cpu"}


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, size=(int(rng.integers(40, 200)), int(rng.integers(40, 200)), 3), dtype=np.uint8) for _ in range(11)]
    captions = [f"a photo of {n} red cars on a street" for n in range(11)]
    return {"key": [str(i) for i in range(11)], "text": captions, "masked_image": images, "error": [None] * 11}


def test_scores_are_cosine_similarities_of_the_two_embeddings(batch):
    import torch
    from PIL import Image

    step = ClipRescore(**TINY)
    scores = np.array(step(batch)["tmars_score"], dtype=np.float32)
    network, preprocess, tokenizer = clip_rescore.load_clip("curascale-tiny-clip", None, "cpu", 0)
    with torch.no_grad():
        image = network.encode_image(preprocess(Image.fromarray(batch["masked_image"][3]))[None])[0]
        text = network.encode_text(tokenizer([batch["text"][3]]))[0]
    assert scores[3] == pytest.approx(float(image @ text / (image.norm() * text.norm())), abs=1e-6)
    assert np.all(np.abs(scores) <= 1)


def test_batched_equals_unbatched_and_runs_are_deterministic(batch, monkeypatch):
    step = ClipRescore(**TINY)
    batched = np.array(step(batch)["tmars_score"])
    one_by_one = np.array([step({k: v[i : i + 1] for k, v in batch.items()})["tmars_score"][0] for i in range(11)])
    np.testing.assert_allclose(batched, one_by_one, rtol=0, atol=1e-6)  # float32 rounding only
    monkeypatch.setattr(clip_rescore, "_MODELS", {})  # a fresh load, as in another process
    again = np.array(ClipRescore(**TINY)(batch)["tmars_score"])
    assert np.array_equal(batched, again)  # same seed, same weights, same chunk: same bits
    other_seed = np.array(ClipRescore(**TINY, seed=1)(batch)["tmars_score"])
    assert not np.allclose(batched, other_seed)


def test_unreadable_rows_get_no_score_and_columns_are_configurable(batch):
    step = ClipRescore(**TINY, image_column="image", output="clip_score")
    rows = {**batch, "image": batch["masked_image"], "error": [None] * 10 + ["cannot decode image"]}
    out = step(rows)
    assert out["clip_score"][10] is None and all(isinstance(v, float) for v in out["clip_score"][:10])
    assert step.outputs() == {"clip_score": __import__("pyarrow").float32()}


def test_an_unknown_model_is_a_clear_error():
    with pytest.raises(UserError, match="unknown CLIP model 'ViT-Q-99'"):
        ClipRescore(model="ViT-Q-99", pretrained=None, device="cpu").setup()
