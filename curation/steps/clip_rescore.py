"""Re-score image-caption pairs with CLIP (T-MARS, step 3): the cosine similarity of the
L2-normalised open_clip embeddings of an image column (default: the masked image) and the
caption, written as a float32 column (default `tmars_score`). A second instance on `image` with
`output="clip_score"` gives the unmasked score with the same model (the model is loaded once).

`model`/`pretrained` are open_clip's names (`ViT-L-14` / `openai` for real use: the weights come
from the user's cache or the hub). `pretrained=None` builds the model with random weights from
`seed`, identical in every process: how the tests and demos run offline. `curascale-tiny-clip`
is a small config shipped in `curation/models/` for them. Outputs for a sample depend on the
batch it is scored in only through float32 rounding (about 1e-7); engines feed identical chunks
(`curation.webdataset.chunks`), so scores are identical across engines.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from curation.steps.base import Batch, ImageStep, readable, with_column
from curascale.errors import UserError

MODEL_CONFIGS = Path(__file__).resolve().parent.parent / "models"
_MODELS: dict[tuple, tuple] = {}
_LOCK = threading.Lock()


def load_clip(model: str, pretrained: str | None, device: str, seed: int):
    """(model, preprocess, tokenizer), cached per process."""
    key = (model, pretrained, device, seed)
    with _LOCK:
        if key not in _MODELS:
            try:
                import open_clip
                import torch
            except ImportError:
                raise UserError("CLIP re-scoring needs the image extra: pip install 'curascale[image]'") from None
            open_clip.add_model_config(MODEL_CONFIGS)
            if model not in open_clip.list_models() and not model.startswith(("hf-hub:", "local-dir:")):
                raise UserError(f"unknown CLIP model {model!r} (open_clip knows e.g. ViT-B-32, ViT-L-14, curascale-tiny-clip)")
            torch.manual_seed(seed)
            network, _, preprocess = open_clip.create_model_and_transforms(model, pretrained=pretrained, device=device)
            network.eval()
            _MODELS[key] = (network, preprocess, open_clip.get_tokenizer(model))
        return _MODELS[key]


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass
class ClipRescore(ImageStep):
    model: str = "ViT-L-14"
    pretrained: str | None = "openai"
    image_column: str = "masked_image"
    output: str = "tmars_score"
    device: str | None = None
    seed: int = 0
    name: str = field(init=False, default="clip_rescore")
    heavy = True
    uses_gpu = True

    def outputs(self):
        return {self.output: pa.float32()}

    def setup(self, threads: int | None = None) -> None:
        if threads:
            import torch

            torch.set_num_threads(threads)  # OpenMP: for the calling (worker) thread
        load_clip(self.model, self.pretrained, self.device or default_device(), self.seed)

    def scores(self, images: list[np.ndarray], captions: list[str]) -> np.ndarray:
        import torch
        from PIL import Image

        device = self.device or default_device()
        network, preprocess, tokenizer = load_clip(self.model, self.pretrained, device, self.seed)
        if not images:
            return np.empty(0, dtype=np.float32)
        with torch.no_grad():
            pixels = torch.stack([preprocess(Image.fromarray(image)) for image in images]).to(device)
            image_embeddings = network.encode_image(pixels, normalize=True)
            text_embeddings = network.encode_text(tokenizer(captions).to(device), normalize=True)
            return (image_embeddings * text_embeddings).sum(dim=-1).float().cpu().numpy()

    def __call__(self, batch: Batch) -> Batch:
        rows = readable(batch)
        values = self.scores([batch[self.image_column][row] for row in rows], [batch["text"][row] for row in rows])
        return with_column(batch, self.output, rows, [float(v) for v in values])

    def describe(self) -> dict:
        return {"step": self.name, "model": self.model, "pretrained": self.pretrained, "image_column": self.image_column, "output": self.output, "seed": self.seed}
