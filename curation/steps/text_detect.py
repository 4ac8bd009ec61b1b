"""Detect the text regions of each image (T-MARS, step 1) with a detector from
`curation.detectors`. Stores `text_boxes`: one flat polygon [x0, y0, x1, y1, ...] in pixels per
region (rounded to 0.01 px); with `recognize`, also `ocr_text`, the recognised words joined by
spaces (what the text-match baseline compares with the caption)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from curation.steps.base import Batch, ImageStep, readable, with_column

BOXES_TYPE = pa.list_(pa.list_(pa.float64()))


def flat_polygon(polygon: np.ndarray) -> list[float]:
    return [round(float(v), 2) for v in np.asarray(polygon, dtype=np.float64).reshape(-1)]


def polygons(flat_boxes: list[list[float]]) -> list[np.ndarray]:
    return [np.asarray(box, dtype=np.float64).reshape(-1, 2) for box in flat_boxes or []]


@dataclass
class TextDetect(ImageStep):
    detector: str = "rapidocr"
    recognize: bool = False
    name: str = field(init=False, default="text_detect")
    heavy = True

    def __post_init__(self):
        from curation.detectors import check_detector

        check_detector(self.detector)
        self._detector = None

    def outputs(self):
        return {"text_boxes": BOXES_TYPE, **({"ocr_text": pa.string()} if self.recognize else {})}

    def setup(self, threads: int | None = None) -> None:
        from curation.detectors import make_detector

        if self._detector is None:
            self._detector = make_detector(self.detector, threads)

    def __call__(self, batch: Batch) -> Batch:
        self.setup()
        rows = readable(batch)
        found = [self._detector.detect(batch["image"][row], self.recognize) for row in rows]
        batch = with_column(batch, "text_boxes", rows, [[flat_polygon(polygon) for polygon, _ in regions] for regions in found])
        if self.recognize:
            batch = with_column(batch, "ocr_text", rows, [" ".join(text for _, text in regions if text) for regions in found])
        return batch
