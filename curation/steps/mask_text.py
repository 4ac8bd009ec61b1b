"""Mask the detected text (T-MARS, step 2): each region (a polygon, filled as PIL rasterises it,
edges included) is painted with the mean colour of its ring, the pixels within `ring_width` px of
the region (Chebyshev distance: a (2w+1)-square dilation) that lie in no text region, measured on
the unmasked image and rounded to the nearest integer. A region with no such pixels takes the mean
of all the image's non-text pixels (or of the whole image when text covers everything). Pixels
outside every region are untouched; images without text pass unchanged. Stores `text_area`, the
share of pixels masked."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from curation.steps.base import Batch, ImageStep, readable, with_column
from curation.steps.text_detect import polygons


def polygon_mask(polygon: np.ndarray, shape: tuple[int, int], origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Boolean (rows, cols) mask of a polygon's pixels, in a window whose top-left pixel is
    `origin` = (x, y) of the image."""
    from PIL import Image, ImageDraw

    canvas = Image.new("1", (shape[1], shape[0]), 0)
    points = [(float(x) - origin[0], float(y) - origin[1]) for x, y in polygon]
    ImageDraw.Draw(canvas).polygon(points, fill=1, outline=1)
    return np.asarray(canvas, dtype=bool)


def _window(polygon: np.ndarray, margin: int, height: int, width: int) -> tuple[int, int, int, int]:
    x0, y0 = np.floor(polygon.min(axis=0)).astype(int) - margin
    x1, y1 = np.ceil(polygon.max(axis=0)).astype(int) + margin + 1
    return max(0, x0), max(0, y0), min(width, x1), min(height, y1)


def mask_regions(image: np.ndarray, regions: list[np.ndarray], ring_width: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The masked image and the boolean mask of all text pixels."""
    from scipy.ndimage import binary_dilation

    height, width = image.shape[:2]
    if not regions:
        return image, np.zeros((height, width), dtype=bool)
    masks = []
    text = np.zeros((height, width), dtype=bool)
    for polygon in regions:
        x0, y0, x1, y1 = _window(polygon, ring_width, height, width)
        mask = np.zeros((height, width), dtype=bool)
        if x1 > x0 and y1 > y0:
            mask[y0:y1, x0:x1] = polygon_mask(polygon, (y1 - y0, x1 - x0), (x0, y0))
        masks.append((mask, (x0, y0, x1, y1)))
        text |= mask
    masked = image.copy()
    for mask, (x0, y0, x1, y1) in masks:
        if not mask.any():
            continue
        window = mask[y0:y1, x0:x1]
        ring = binary_dilation(window, structure=np.ones((3, 3), dtype=bool), iterations=ring_width) & ~text[y0:y1, x0:x1]
        if ring.any():
            colour = image[y0:y1, x0:x1][ring].mean(axis=0)
        elif (~text).any():
            colour = image[~text].mean(axis=0)
        else:
            colour = image.reshape(-1, image.shape[-1]).mean(axis=0)
        masked[mask] = np.rint(colour).astype(image.dtype)
    return masked, text


@dataclass
class MaskText(ImageStep):
    ring_width: int = 3
    name: str = field(init=False, default="mask_text")

    def outputs(self):
        return {"masked_image": None, "text_area": pa.float64()}

    def __call__(self, batch: Batch) -> Batch:
        rows = readable(batch)
        results = [mask_regions(batch["image"][row], polygons(batch["text_boxes"][row]), self.ring_width) for row in rows]
        batch = with_column(batch, "masked_image", rows, [masked for masked, _ in results])
        return with_column(batch, "text_area", rows, [float(text.mean()) for _, text in results])
