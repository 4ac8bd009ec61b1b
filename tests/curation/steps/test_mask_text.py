import numpy as np
import pytest

from curation.steps.mask_text import MaskText, mask_regions


def square(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)


@pytest.fixture
def noise():
    return np.random.default_rng(0).integers(0, 256, size=(60, 80, 3), dtype=np.uint8)


def test_masked_pixels_equal_the_ring_average_and_the_rest_is_untouched(noise):
    masked, text = mask_regions(noise, [square(20, 10, 40, 30)], ring_width=3)
    inside = np.zeros(noise.shape[:2], bool)
    inside[10:31, 20:41] = True  # the polygon's pixels, edges included
    ring = np.zeros_like(inside)
    ring[7:34, 17:44] = True  # within 3 px (Chebyshev) ...
    ring &= ~inside  # ... and not text
    expected = np.rint(noise[ring].mean(axis=0)).astype(np.uint8)
    assert np.array_equal(text, inside)
    assert (masked[inside] == expected).all()
    assert np.array_equal(masked[~inside], noise[~inside])


def test_the_ring_leaves_out_other_text_and_stops_at_the_border(noise):
    regions = [square(0, 0, 10, 10), square(12, 0, 30, 10)]
    masked, text = mask_regions(noise, regions, ring_width=4)
    first = np.zeros(noise.shape[:2], bool)
    first[0:11, 0:11] = True
    ring = np.zeros_like(first)
    ring[0:15, 0:15] = True
    ring &= ~text
    assert (masked[first] == np.rint(noise[ring].mean(axis=0)).astype(np.uint8)).all()
    assert np.array_equal(masked[~text], noise[~text])


def test_images_without_text_pass_unchanged_and_full_cover_uses_the_image_mean(noise):
    masked, text = mask_regions(noise, [], ring_width=3)
    assert masked is noise and not text.any()
    masked, text = mask_regions(noise, [square(0, 0, 79, 59)], ring_width=3)
    assert text.all() and (masked == np.rint(noise.reshape(-1, 3).mean(axis=0)).astype(np.uint8)).all()


def test_the_step_skips_unreadable_rows_and_records_the_text_area(noise):
    batch = {"key": ["a", "b"], "image": [noise, None], "text_boxes": [[square(0, 0, 9, 9).reshape(-1).tolist()], None], "error": [None, "cannot decode image"]}
    out = MaskText(ring_width=2)(batch)
    assert out["masked_image"][1] is None and out["text_area"][1] is None
    assert out["text_area"][0] == pytest.approx(100 / (60 * 80))
    assert not np.array_equal(out["masked_image"][0], noise)
