"""WordNet and the ImageNet-21k class list, for DataComp's text-based baseline.

- WordNet 3.0's database is read from a folder of WordNet dict files (`index.noun`,
  `data.noun`, ...) with nltk's `WordNetCorpusReader`, the reader behind the
  `nltk.corpus.wordnet` that DataComp uses. Default: `/usr/share/wordnet`, installed by Debian's
  `wordnet-base` package (`apt-get install wordnet-base`); any WordNet 3.0 dict folder (e.g.
  nltk_data/corpora/wordnet) can be given instead. Debian's package lacks the `lexnames` file
  nltk reads at start-up: when absent, numbered placeholder names stand in (they only name
  `Synset.lexname()`, which the baseline does not use; offsets and senses are unaffected).
- The ImageNet-21k classes are WordNet noun ids (`n02084071`, one a line). Default:
  `timm/data/_info/imagenet21k_goog_synsets.txt` inside timm's wheel (installed with
  open_clip): the 21,843 synsets of the full ImageNet release (fall 2011), the list DataComp's
  `imagenet21k_wordnet_ids.txt` asset gives. Any such file can be given instead.
"""

from __future__ import annotations

import io
import threading
import warnings
from functools import lru_cache
from importlib import util
from pathlib import Path

from curascale.errors import UserError

DEFAULT_WORDNET = "/usr/share/wordnet"
LEXICOGRAPHER_FILES = 45  # WordNet 3.0's lexicographer files, numbered 00-44 (lexnames(5WN))
_OPENING = threading.Lock()
_READING = threading.Lock()  # nltk's reader seeks in shared open files: one lookup at a time


def default_imagenet21k_synsets() -> str:
    spec = util.find_spec("timm")
    if spec is None or spec.origin is None:
        raise UserError("the ImageNet-21k class list comes from the timm package (pip install timm), or pass synsets=FILE")
    return str(Path(spec.origin).parent / "data" / "_info" / "imagenet21k_goog_synsets.txt")


@lru_cache(maxsize=4)
def imagenet21k_offsets(path: str) -> frozenset[int]:
    """The WordNet offsets of a synset-id file (`n` + 8 digits a line), as DataComp reads it
    (`int(line.strip()[1:])`); a malformed line names the file and line."""
    try:
        lines = Path(path).read_text().splitlines()
    except (FileNotFoundError, IsADirectoryError):
        raise UserError(f"synsets {path}: no such file") from None
    offsets = set()
    for number, line in enumerate(lines, start=1):
        wnid = line.strip()
        if not wnid:
            continue
        if len(wnid) != 9 or wnid[0] != "n" or not wnid[1:].isdigit():
            raise UserError(f"{path}, line {number}: not a WordNet noun id like n02084071: {wnid[:40]!r}")
        offsets.add(int(wnid[1:]))
    if not offsets:
        raise UserError(f"{path}: no synset ids")
    return frozenset(offsets)


def _reader_class():
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class DictFolderReader(WordNetCorpusReader):
        """nltk's reader over a WordNet dict folder, with `lexnames` made up when it is missing."""

        def open(self, fileid):
            if fileid == "lexnames" and not (Path(str(self._root)) / "lexnames").exists():
                return io.StringIO("".join(f"{n:02d}\tlexfile.{n:02d}\t0\n" for n in range(LEXICOGRAPHER_FILES)))
            return super().open(fileid)

        def map_wn(self, version="wordnet"):
            return None  # no mapping to nltk's own WordNet: this folder is the English WordNet itself

    return DictFolderReader


def open_wordnet(folder: str = DEFAULT_WORDNET):
    """nltk's WordNet reader over a dict folder (see the module docstring); opened once per
    process and folder (threads wait for the first opening)."""
    with _OPENING:
        return _open_wordnet(str(folder))


WORDNET_MISSING = "not a WordNet dict folder (no index.noun); apt-get install wordnet-base, or give the dict folder"


def is_wordnet_folder(folder: str | Path) -> bool:
    """Whether `folder` is a WordNet 3.0 dict folder (it holds index.noun)."""
    return (Path(folder) / "index.noun").is_file()


@lru_cache(maxsize=2)
def _open_wordnet(folder: str):
    try:
        import nltk
    except ImportError:
        raise UserError("the text-based filter needs nltk (pip install 'curascale[datacomp]')") from None
    root = Path(folder)
    if not is_wordnet_folder(root):
        raise UserError(f"wordnet {folder}: {WORDNET_MISSING} as wordnet=FOLDER")
    if str(root.resolve()) not in nltk.data.path:
        nltk.data.path.append(str(root.resolve()))  # nltk reads only from its data path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available"
        return _reader_class()(str(root.resolve()), None)


def first_synset_offset(wordnet, word: str) -> int | None:
    """The offset of `wordnet.synsets(word)[0]` (nltk's most frequent sense over every part of
    speech, after morphy), or None when the word has no synset."""
    with _READING:
        synsets = wordnet.synsets(word)
    return synsets[0].offset() if synsets else None
