"""The detectors find the text the demo pool rendered, and none once it is masked."""

import io
import json
import shutil
import sys
import tarfile
import types

import numpy as np
import pytest

pytest.importorskip("rapidocr_onnxruntime")

from curation.detectors import EasyOcr, Tesseract, make_detector  # noqa: E402
from curation.steps.decode_images import decode  # noqa: E402
from curation.steps.mask_text import mask_regions, polygon_mask  # noqa: E402
from curation.steps.text_detect import TextDetect, polygons  # noqa: E402
from curascale.errors import UserError  # noqa: E402


def rendered(shard):
    """(image, rendered boxes, caption) of every sample of a demo shard."""
    with tarfile.open(shard) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    for name in sorted(n for n in members if n.endswith(".json")):
        meta = json.loads(members[name])
        yield decode(members[name.replace(".json", ".jpg")]), meta["text_boxes"], meta["caption"]


def covered(image, regions, box):
    cover = np.zeros(image.shape[:2], bool)
    for polygon in regions:
        cover |= polygon_mask(polygon, image.shape[:2])
    x0, y0, x1, y1 = box
    return cover[y0:y1, x0:x1].mean()


def test_rapidocr_finds_the_rendered_text_and_reads_none_after_masking(image_shards):
    step = TextDetect(detector="rapidocr")
    step.setup()
    samples = [s for s in rendered(image_shards / "00000000.tar") if s[1]]
    assert len(samples) >= 4
    for image, boxes, caption in samples:
        regions = polygons(step({"key": ["k"], "image": [image]})["text_boxes"][0])
        assert all(covered(image, regions, box) > 0.75 for box in boxes)  # every rendered line found
        words = [w.lower() for w in caption.split()[:3] if len(w) >= 3]
        read_before = "".join(text for _, text in step._detector.detect(image, recognize=True)).lower()
        assert any(word in read_before for word in words)
        masked, _ = mask_regions(image, regions)
        after = step._detector.detect(masked, recognize=True)
        read_after = "".join(text for _, text in after).lower()
        assert not any(word in read_after for word in words)  # none of the rendered words is left
        assert all(covered(image, [polygon for polygon, _ in after], box) < 0.25 for box in boxes)


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="Debian's tesseract-ocr is not installed")
def test_tesseract_finds_large_text():
    pytest.importorskip("pytesseract")
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (320, 120), (255, 255, 255))
    ImageDraw.Draw(image).text((20, 30), "HELLO WORLD", font=ImageFont.load_default(size=40), fill=(0, 0, 0))
    found = Tesseract().detect(np.asarray(image), recognize=True)
    assert {text for _, text in found} >= {"HELLO", "WORLD"}
    assert all(10 <= polygon[:, 0].min() and polygon[:, 0].max() <= 310 for polygon, _ in found)


def test_easyocr_adapter_turns_its_boxes_into_polygons(monkeypatch):
    class Reader:  # EasyOCR's output shapes: detect -> ([horizontal [x0, x1, y0, y1]], [free quads]) per image
        def __init__(self, languages, gpu):
            pass

        def detect(self, image):
            return [[[5, 25, 10, 20]]], [[[[1, 1], [9, 1], [9, 5], [1, 5]]]]

        def readtext(self, image):
            return [([[5, 10], [25, 10], [25, 20], [5, 20]], "word", 0.9)]

    monkeypatch.setitem(sys.modules, "easyocr", types.SimpleNamespace(Reader=Reader))
    detector = EasyOcr()
    found = detector.detect(np.zeros((30, 30, 3), np.uint8))
    assert [p.tolist() for p, _ in found] == [[[5, 10], [25, 10], [25, 20], [5, 20]], [[1, 1], [9, 1], [9, 5], [1, 5]]]
    assert detector.detect(np.zeros((30, 30, 3), np.uint8), recognize=True)[0][1] == "word"


def test_an_unknown_detector_is_a_clear_error():
    with pytest.raises(UserError, match="detector must be one of rapidocr, tesseract, easyocr"):
        make_detector("paddle")
    with pytest.raises(UserError, match="detector"):
        TextDetect(detector="paddle")


def test_the_step_stores_flat_polygons_and_skips_unreadable_rows():
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (224, 224), (250, 250, 250))
    ImageDraw.Draw(image).text((10, 90), "SALE TODAY", font=ImageFont.load_default(size=36), fill=(0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    step = TextDetect(detector="rapidocr", recognize=True)
    out = step({"key": ["a", "b"], "text": ["x", "y"], "image": [decode(buffer.getvalue()), None], "error": [None, "cannot decode image"]})
    assert out["text_boxes"][1] is None and out["ocr_text"][1] is None
    assert len(out["text_boxes"][0]) >= 1 and all(len(box) % 2 == 0 and len(box) >= 8 for box in out["text_boxes"][0])
    assert "SALE" in out["ocr_text"][0].upper()
