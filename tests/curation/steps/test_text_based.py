"""DataComp's text_based baseline, row for row against a re-statement of their rule."""

import numpy as np
import pyarrow as pa
import pytest

from curascale.errors import UserError
from curation.engines.local import LocalEngine
from curation.pool import Pool
from curation.steps import build_step
from curation.steps.text_based import TextBased
from curation.wordnet import default_imagenet21k_synsets, open_wordnet
from datacomp_rules import fasttext_language, read_pool, uid_set

pytest.importorskip("nltk")
pytestmark = pytest.mark.skipif(not __import__("pathlib").Path("/usr/share/wordnet/index.noun").exists(), reason="Debian's wordnet-base is not installed")


def contains_entity(text, wordnet, entity_ids):
    """DataComp's does_contain_text_entity, with their list of int ids."""
    for word in text.split():
        synsets = wordnet.synsets(word)
        if len(synsets) == 0:
            continue
        if synsets[0].offset() in entity_ids:
            return True
    return False


def test_matches_datacomp_on_the_edge_pool(edge_pool, tmp_path):
    LocalEngine(progress=False).run(Pool.open(edge_pool), [build_step({"step": "text_based"})], tmp_path)
    entity_ids = [int(line.strip()[1:]) for line in open(default_imagenet21k_synsets())]
    wordnet = open_wordnet()
    frame = read_pool(edge_pool)
    kept = frame["text"].map(lambda t: isinstance(t, str) and fasttext_language(t) == "en" and contains_entity(t, wordnet, entity_ids))
    np.testing.assert_array_equal(np.load(tmp_path / "subset.npy"), uid_set(frame[kept]["uid"]))
    assert 0.1 < kept.mean() < 0.9


def test_known_words():
    # dog.n.01 (n02084071), beach.n.01 and car.n.01 are ImageNet-21k classes; "photo"'s first sense
    # photograph.n.01 and "the" (no synset) are not; "DOGS" lemmatises to dog; "dog," has no synset
    rows = pa.table({"text": ["a photo of the DOGS", "the photo of a thing", "a photo of the dog, red", "a car on a beach", "ein Hund mit Auto am Strand", None]})
    assert TextBased().keep(rows).tolist() == [True, False, False, True, False, False]
    # each dropped row names the first rule it fails: "Auto"'s first sense is car.n.01, so the
    # German caption passes the entity rule and fails on its language
    assert TextBased().judge(rows).reason_of().tolist() == [None, "no ImageNet-21k entity", "no ImageNet-21k entity", None, "language", "caption missing"]


def test_user_synsets_file(tmp_path):
    (tmp_path / "ids.txt").write_text("n04490091\n")  # truck.n.01 only
    rows = pa.table({"text": ["a red truck in the city", "a dog on the beach"]})
    assert TextBased(synsets=str(tmp_path / "ids.txt")).keep(rows).tolist() == [True, False]
    (tmp_path / "bad.txt").write_text("n04490091\ndog\n")
    with pytest.raises(UserError, match=r"bad.txt, line 2"):
        TextBased(synsets=str(tmp_path / "bad.txt"))
    with pytest.raises(UserError, match="not a WordNet dict folder .* as wordnet=FOLDER"):
        TextBased(wordnet=str(tmp_path)).keep(rows)


def test_cli_names_the_wordnet_flag(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", "from curascale.cli.app import main; main()", "curate", "text-based", str(tmp_path), "--out", str(tmp_path / "o"),
                             "--wordnet", "/nonexistent"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.splitlines() == [
        "error: --wordnet /nonexistent: not a WordNet dict folder (no index.noun); apt-get install wordnet-base, or give the dict folder as --wordnet FOLDER"]
