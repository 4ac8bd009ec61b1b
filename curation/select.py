"""The exact k-th largest score of a pool in memory bounded by the shard size (radix select).

DataComp's fraction rule needs the value at 0-based index n of the pool's scores sorted
descending (n = int(rows * fraction)): the (n+1)-th largest. Holding the top n+1 values costs
8 bytes per kept row (12.8B rows at fraction 0.3: ~30 GB). Here instead:

1. each float64 score becomes an unsigned 64-bit key with the same order (`order_keys`: the
   sign bit flipped for positives, every bit flipped for negatives);
2. a pass histograms the next `BITS` bits of the keys inside the current bracket (at first every
   key), and the bucket where the count from the top reaches k becomes the new bracket (its
   prefix is the prefix so far plus the bucket; the keys above it are counted);
3. once the bracket holds at most `budget` keys (usually after the first pass: 2^20 buckets
   split DataComp's float32 scores finely), a last pass collects just the bracket and sorts it;
   when all 64 bits are fixed the bracket is one value and needs no collection.

`pool_kth_largest` holds the top k directly when k is within the budget (one pass, faster),
and uses the radix select beyond it.

Memory: the 2^BITS-bucket histogram (8 MiB), one shard's keys, and at most `budget` keys (32 MiB
by default). Passes: 2 for a pool whose bracket fits the budget, one more per 20 bits needed.
Missing (NaN) and out-of-range scores are skipped (`column_values`), as `curation.steps.base.top_values` does; -0.0 and 0.0 are
ordered -0.0 < 0.0 here, which changes no `>=` decision.
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

BITS = 20
BUDGET = 1 << 22
_SIGN = np.uint64(1 << 63)

Values = Callable[[], Iterable[np.ndarray]]  # each call streams the pool's scores, shard by shard


def order_keys(values: np.ndarray) -> np.ndarray:
    """uint64 keys ordered like the float64 values (NaN must be removed first)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    return np.where(bits & _SIGN, ~bits, bits | _SIGN)


def key_value(key: int) -> float:
    """The float64 of an order key (the inverse of `order_keys`)."""
    key = np.uint64(key)
    bits = key & ~_SIGN if key & _SIGN else ~key
    return float(np.array([bits], dtype=np.uint64).view(np.float64)[0])


def _keys(values: Values):
    for shard in values():
        shard = np.asarray(shard, dtype=np.float64)
        yield order_keys(shard[~np.isnan(shard)])


def kth_largest(values: Values, k: int, *, budget: int = BUDGET, bits: int = BITS) -> float | None:
    """The k-th largest (1-based) non-NaN value over every shard `values()` yields, exactly;
    None when there are fewer than k. Each call to `values` must yield the same shards."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    fixed, prefix, above, inside = 0, 0, 0, None  # bits fixed, their value, keys above the bracket, keys in it
    while fixed < 64 and (inside is None or inside > budget):
        width = min(bits, 64 - fixed)
        shift = np.uint64(64 - fixed - width)
        counts = np.zeros(1 << width, dtype=np.int64)
        for keys in _keys(values):
            if fixed:
                keys = keys[(keys >> np.uint64(64 - fixed)) == np.uint64(prefix)]
            counts += np.bincount(((keys >> shift) & np.uint64((1 << width) - 1)).astype(np.int64), minlength=1 << width)
        if inside is None and counts.sum() < k:
            return None
        from_top = np.cumsum(counts[::-1])
        position = int(np.searchsorted(from_top, k - above))  # first bucket from the top reaching k
        bucket = (1 << width) - 1 - position
        above += int(from_top[position - 1]) if position else 0
        inside = int(counts[bucket])
        prefix, fixed = (prefix << width) | bucket, fixed + width
    if fixed == 64:
        return key_value(prefix)
    collected = np.concatenate([keys[(keys >> np.uint64(64 - fixed)) == np.uint64(prefix)] for keys in _keys(values)] or [np.empty(0, np.uint64)])
    collected = np.sort(collected)[::-1]
    return key_value(int(collected[k - above - 1]))


def pool_kth_largest(scan, column: str, k: int, *, budget: int = BUDGET) -> float | None:
    """The k-th largest non-missing value of a pool's column: one streaming pass holding the top
    k (`curation.steps.base.top_values`) while k <= `budget` (at most ~16 bytes a value), else
    the radix select above; both exact, so the result does not depend on which ran."""
    if k <= budget:
        from curation.steps.base import top_values

        found = top_values(scan, column, k)
        top = np.asarray(getattr(found, "values", found))  # an array, or a TopValues holding one
        return float(top[k - 1]) if top.size >= k else None
    return kth_largest(column_values(scan, column), k, budget=budget)


def column_values(scan, column: str) -> Values:
    """`values` for `kth_largest` from an engine's `scan(columns)`: one column's valid scores,
    shard by shard (missing and out-of-range scores dropped, as `top_values` does; see
    `curation.scores.read_scores`)."""
    from curation.scores import read_scores

    def values():
        for table in scan((column,)):
            scores = read_scores(table, column)
            yield scores.values[scores.valid].astype(np.float64)

    return values
