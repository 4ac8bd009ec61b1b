"""DataComp's `text_based` baseline (apply_filter.py, `load_uids_with_text_entity`): keep a
sample when its caption is English (fastText lid.176 top-1, newlines folded) and some word of
it (`caption.split()`) has a first WordNet synset (`wordnet.synsets(word)[0]`, nltk's most
frequent sense over all parts of speech) whose offset is the offset of an ImageNet-21k class.
As in DataComp the match is on the offset alone. A missing caption is never kept; each dropped
row carries its rule (`TextBased.REASONS`).

Sources (see curation/wordnet.py): WordNet 3.0 from Debian's `wordnet-base` package
(/usr/share/wordnet) or `wordnet=FOLDER`; the ImageNet-21k ids from timm's wheel
(imagenet21k_goog_synsets.txt) or `synsets=FILE`; the language model as in the basic filter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from curation.steps.base import Filter, Verdict
from curation.steps.basic import default_lid_model
from curation.steps.laion2b import english
from curation.wordnet import DEFAULT_WORDNET, default_imagenet21k_synsets, first_synset_offset, imagenet21k_offsets, open_wordnet


@dataclass
class TextBased(Filter):
    synsets: str | None = None
    wordnet: str | None = None
    lid_model: str | None = None
    language: str = "en"
    name: str = field(init=False, default="text_based")

    REASONS = ("caption missing", "no ImageNet-21k entity", "language")

    def __post_init__(self):
        self._entities = imagenet21k_offsets(self.synsets or default_imagenet21k_synsets())
        self._wordnet = None
        self._words: dict[str, bool] = {}  # word -> names an ImageNet-21k class (memo)

    def __getstate__(self):  # for Ray: the WordNet reader is reopened where the step runs
        return {**self.__dict__, "_wordnet": None}

    @property
    def columns(self):
        return ("text",)

    def names_entity(self, word: str) -> bool:
        found = self._words.get(word)
        if found is None:
            if self._wordnet is None:
                self._wordnet = open_wordnet(self.wordnet or DEFAULT_WORDNET)
            found = self._words[word] = first_synset_offset(self._wordnet, word) in self._entities
        return found

    def judge(self, table: pa.Table) -> Verdict:
        """Per row: "caption missing", "no ImageNet-21k entity", or (checked last: the only rule
        that runs a model) "language"."""
        texts = table.column("text").to_pylist()
        codes = np.array([1 if t is None else 0 if any(self.names_entity(w) for w in t.split()) else 2 for t in texts], dtype=np.uint8)
        rows = np.flatnonzero(codes == 0)
        codes[rows[~english([texts[i] for i in rows], self.lid_model, self.language)]] = 3
        return Verdict(codes, self.REASONS)

    def describe(self) -> dict:
        return {"step": self.name, "synsets": Path(self.synsets or default_imagenet21k_synsets()).name, "entities": len(self._entities),
                "wordnet": self.wordnet or DEFAULT_WORDNET, "language": self.language, "lid_model": Path(self.lid_model or default_lid_model()).name}
