"""Text detectors behind one interface: `detect(image, recognize) -> [(polygon, text)]`, where
`image` is an RGB uint8 array, `polygon` a (k, 2) float array of pixel (x, y) corners and `text`
the recognised string (None when `recognize` is False and the detector does not read anyway).

- `rapidocr` (default): PP-OCR's detector (DB, PP-OCRv4) on onnxruntime via rapidocr-onnxruntime;
  its ONNX models ship inside the wheel, so it works offline. Detection only unless asked to read.
- `tesseract`: Debian's `tesseract-ocr` through pytesseract; word boxes with confidence >= 0.
- `easyocr`: CRAFT detection (and its recogniser) through EasyOCR; its weights come from the
  user's cache or are downloaded on first use.
"""

from __future__ import annotations

import numpy as np

from curascale.errors import UserError


def _missing(package: str, extra: str) -> UserError:
    return UserError(f"this detector needs {package}: pip install {extra}")


class RapidOcr:
    def __init__(self, threads: int | None = None):
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError:
            raise _missing("rapidocr-onnxruntime", "'curascale[image]'") from None
        options = {f"{part}_intra_op_num_threads": threads for part in ("det", "cls", "rec")} if threads else {}
        self.engine = RapidOCR(**options)

    def detect(self, image: np.ndarray, recognize: bool = False) -> list[tuple[np.ndarray, str | None]]:
        found, _ = self.engine(image, use_det=True, use_cls=False, use_rec=recognize)
        if not found:
            return []
        if recognize:
            return [(np.asarray(box, dtype=np.float64), str(text)) for box, text, _ in found]
        return [(np.asarray(box, dtype=np.float64), None) for box in found]


class Tesseract:
    def __init__(self, threads: int | None = None, min_confidence: float = 0.0):
        try:
            import pytesseract
        except ImportError:
            raise _missing("pytesseract and Debian's tesseract-ocr", "pytesseract && apt-get install tesseract-ocr") from None
        self.pytesseract = pytesseract
        self.min_confidence = min_confidence

    def detect(self, image: np.ndarray, recognize: bool = False) -> list[tuple[np.ndarray, str | None]]:
        data = self.pytesseract.image_to_data(image, output_type=self.pytesseract.Output.DICT)
        found = []
        for left, top, width, height, confidence, text in zip(data["left"], data["top"], data["width"], data["height"], data["conf"], data["text"]):
            if float(confidence) >= self.min_confidence and text.strip():
                x0, y0, x1, y1 = float(left), float(top), float(left + width), float(top + height)
                found.append((np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]), text.strip()))
        return found


class EasyOcr:
    def __init__(self, threads: int | None = None, languages: tuple[str, ...] = ("en",), gpu: bool = False):
        try:
            import easyocr
        except ImportError:
            raise _missing("easyocr", "easyocr") from None
        self.reader = easyocr.Reader(list(languages), gpu=gpu)

    def detect(self, image: np.ndarray, recognize: bool = False) -> list[tuple[np.ndarray, str | None]]:
        if recognize:
            return [(np.asarray(box, dtype=np.float64), str(text)) for box, text, _ in self.reader.readtext(image)]
        horizontal, free = self.reader.detect(image)
        found = [(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64), None) for x0, x1, y0, y1 in horizontal[0]]
        return found + [(np.asarray(box, dtype=np.float64), None) for box in free[0]]


DETECTORS = {"rapidocr": RapidOcr, "tesseract": Tesseract, "easyocr": EasyOcr}


def check_detector(name: str) -> str:
    """`name` if it names a detector, else a one-line error naming the parameter."""
    if name not in DETECTORS:
        raise UserError(f"detector must be one of {', '.join(DETECTORS)}, got {name!r}")
    return name


def make_detector(name: str, threads: int | None = None):
    """The named detector; `threads` caps its CPU threads where the library allows it (rapidocr)."""
    return DETECTORS[check_detector(name)](threads)
