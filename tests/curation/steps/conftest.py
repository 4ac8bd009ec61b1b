import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.demo import write_demo_pool

# captions where DataComp's rules meet their edge cases: newlines (fastText folds them; its
# tokenizer counts one token per newline), a no-break space (a separator for str.split, not for
# fastText), upper case and plurals (nltk lower-cases and lemmatises), punctuation glued to a word,
# exactly 5 and 6 characters, one word, non-English text naming ImageNet classes in English words
EDGE_CAPTIONS = [
    "a dog\non the beach", "dog\ncar", "DOGS on a beach", "the dogs, cats.", "dog car", "a dog", "Dog", "cars\u00a0beach",
    "ein Hund am Strand", "un chien sur la plage", "sunset over the river", "a photo\n", "\n\n\nphoto", "beach   house",
]


@pytest.fixture(scope="session")
def edge_pool(tmp_path_factory):
    """A 3,000-sample demo pool in 3 shards with .npz embeddings, where every 7th caption is an edge
    case, some captions and scores are missing, and B/32 scores sit exactly at 0.28 (float32) and
    one float32 step below it (session-wide; do not modify)."""
    root = tmp_path_factory.mktemp("edge") / "pool"
    write_demo_pool(root, 3000, shards=3, with_npz=True, seed=11)
    at = np.float32(0.28)
    below = np.nextafter(at, np.float32(0))
    for index, shard in enumerate(sorted(root.glob("*.parquet"))):
        table = pq.read_table(shard)
        rows = table.num_rows
        texts = table.column("text").to_pylist()
        for i in range(0, rows, 7):
            texts[i] = EDGE_CAPTIONS[(i // 7 + index) % len(EDGE_CAPTIONS)]
        for i in range(3, rows, 97):
            texts[i] = None
        b32 = table.column("clip_b32_similarity_score").to_numpy(zero_copy_only=False).copy()
        b32[5::11] = at
        b32[6::11] = below
        scores = pa.array(b32, mask=np.arange(rows) % 89 == 4)
        table = table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts, pa.string()))
        table = table.set_column(table.schema.get_field_index("clip_b32_similarity_score"), "clip_b32_similarity_score", scores)
        pq.write_table(table, shard)
    return root

