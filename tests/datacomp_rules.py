"""Plain re-statements (for tests/curation/steps) of DataComp's baseline rules (their baselines/apply_filter.py), written
independently of curation/: the tests compare the steps against these, row for row."""

from functools import lru_cache

import fasttext
import numpy as np
import pandas as pd

from curation.steps.basic import default_lid_model


@lru_cache(maxsize=1)
def lid():
    return fasttext.load_model(default_lid_model())


def fasttext_language(text: str) -> str:
    """DataComp's get_fasttext_language."""
    return lid().predict(text.replace("\n", " "))[0][0].split("__label__")[1]


def fasttext_tokenize(text: str) -> list[str]:
    """fastText's Dictionary::readWord loop (what fasttext.tokenize returns), byte by byte."""
    tokens, word = [], b""
    for byte in text.encode():
        if byte in b" \n\r\t\v\f\0":
            if word:
                tokens.append(word)
                word = b""
            if byte == ord("\n"):
                tokens.append(b"</s>")
        else:
            word += bytes([byte])
    return tokens + ([word] if word else [])


def read_pool(root) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in sorted(root.glob("*.parquet"))], ignore_index=True)


def read_npz(root, key: str) -> np.ndarray:
    parts = []
    for shard in sorted(root.glob("*.parquet")):
        with np.load(shard.with_suffix(".npz")) as archive:
            parts.append(archive[key].astype(np.float32))
    return np.concatenate(parts)


def uid_set(uids) -> np.ndarray:
    """Sorted DataComp subset of hex uids (their rule: (int(uid[:16], 16), int(uid[16:32], 16)))."""
    return np.sort(np.array([(int(u[:16], 16), int(u[16:32], 16)) for u in uids], np.dtype("u8,u8")))
