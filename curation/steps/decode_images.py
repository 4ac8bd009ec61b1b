"""Decode each sample's image bytes into an RGB uint8 array (H, W, 3). An image that PIL cannot
decode (corrupt, truncated, a decompression bomb) sets the row's `error` and is skipped by the
steps after; the run goes on."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from curation.steps.base import Batch, ImageStep


def decode(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


@dataclass
class DecodeImages(ImageStep):
    name: str = field(init=False, default="decode_images")

    def outputs(self):
        return {"image": None}

    def __call__(self, batch: Batch) -> Batch:
        images, errors = [], list(batch.get("error") or [None] * len(batch["key"]))
        for row, data in enumerate(batch["image_bytes"]):
            image = None
            if errors[row] is None:
                try:
                    image = decode(data)
                except Exception as error:  # noqa: BLE001  (any decoder failure is one bad image)
                    errors[row] = f"cannot decode image: {type(error).__name__}: {error}"
            images.append(image)
        out = {k: v for k, v in batch.items() if k != "image_bytes"}
        return {**out, "image": images, "error": errors}
