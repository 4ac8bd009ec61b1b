"""Where a data plan's bucket sizes come from, and what the plan says about them.

A data plan needs the samples in each quality bucket (docs/laws.md §3: the epochs of a union are
budget / (m x bucket size)). Four sources, in this order:

- the fit: `bucket_size_samples` in its metadata (the runs' `unique_samples`);
- the registry (`plan-curation --db`): the sizes of registered buckets of the same names
  (`scaling.frames.bucket_metadata`), used only for buckets the fit has no size for: where both
  have one and they differ by more than `SIZE_RTOL`, the fit's is kept and a
  ``bucket-sizes-differ`` note names both (a pool registered later under the same bucket names,
  e.g. a small demo pool, never silently replaces the sizes the law was fitted at);
- `--bucket-sizes` (`given`): the user's word, used as given; names must be the fit's buckets;
- the pool a manifest is cut from (`--pool`): its own bucket sizes, which must match the fit's
  within `SIZE_RTOL` (a plan for other sizes would extrapolate the law, and its passes would not
  be the pool's), else CurascaleError naming both.

`choose_bucket_sizes` returns the sizes and a ``bucket-sizes`` info note recording each size and
its source.
"""

from __future__ import annotations

import difflib
from typing import Mapping

from curascale.errors import UserError
from curascale.notes import Note

SIZE_RTOL = 0.01  # sizes within 1% agree (percentile-rank rounding of a pool's buckets)


def _differ(a: float, b: float, rtol: float) -> bool:
    return abs(a - b) > rtol * max(abs(a), abs(b))


def _shown(sizes: Mapping[str, tuple[float, float]]) -> str:
    return ", ".join(f"{b} {x:.4g} vs {y:.4g}" for b, (x, y) in sizes.items())


def fit_buckets(fit) -> list[str]:
    """The buckets of a data-filtering fit: its nested buckets (best first), then any other group."""
    return list(dict.fromkeys([*(fit.metadata.get("nested_buckets") or []), *(fit.groups or [])]))


def check_bucket_names(buckets, given: Mapping[str, float], option: str = "--bucket-sizes") -> None:
    """Every name in `given` must be one of `buckets` (case matters); otherwise CurascaleError
    naming it, the near misses (difflib, case-insensitive) and the buckets there are."""
    buckets = list(buckets)
    for name in given:
        if name in buckets:
            continue
        lowered = {b.lower(): b for b in buckets}
        near = [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=2, cutoff=0.6)]
        hint = f"; did you mean {' or '.join(near)}?" if near else ""
        raise UserError(f"{option}: no bucket {name!r} in the fit (its buckets: {', '.join(buckets)}){hint}")


def choose_bucket_sizes(
    fit,
    *,
    registry: tuple[str, Mapping[str, float]] | None = None,
    given: Mapping[str, float] | None = None,
    pool: tuple[str, Mapping[str, float]] | None = None,
    rtol: float = SIZE_RTOL,
    force: bool = False,
) -> tuple[dict[str, float], list[Note]]:
    """Samples per bucket of `fit` for a plan, and the notes that say where they come from (see the
    module docstring). `registry` and `pool`: (name, {bucket: samples}); `given`: {bucket: samples}.
    Raises CurascaleError for a name in `given` that is not a bucket of the fit, and when the
    pool's sizes differ from the fit's by more than `rtol` unless `force` (then a
    ``bucket-sizes-differ`` warning, and the pool's sizes are planned on)."""
    buckets = fit_buckets(fit)
    fitted = {b: float(s) for b, s in fit.metadata.get("bucket_size_samples", {}).items() if b in buckets}
    sizes, origin, notes = dict(fitted), {b: "fit" for b in fitted}, []
    if registry is not None:
        name, found = registry
        found = {b: float(s) for b, s in found.items() if b in buckets}
        differ = {b: (fitted[b], s) for b, s in found.items() if b in fitted and _differ(fitted[b], s, rtol)}
        if differ:
            notes.append(Note("bucket-sizes-differ", f"registry pool {name} has other bucket sizes than the fit ({_shown(differ)} samples, fit vs registry): "
                              "planning on the fit's; give --bucket-sizes to plan on others", "warning",
                              {"pool": name, "fit": {b: x for b, (x, _) in differ.items()}, "registry": {b: y for b, (_, y) in differ.items()}}))
        for b, s in found.items():
            if b not in fitted:
                sizes[b], origin[b] = s, f"registry pool {name}"
    if given:
        check_bucket_names(buckets, given)
        for b, s in given.items():
            sizes[b], origin[b] = float(s), "--bucket-sizes"
    if pool is not None:
        name, found = pool
        differ = {b: (fitted[b], float(s)) for b, s in found.items() if b in fitted and _differ(fitted[b], float(s), rtol)}
        message = (f"pool {name}'s bucket sizes differ from the fit's ({_shown(differ)} samples, fit vs pool): a plan for the pool's "
                   "buckets extrapolates the law")
        if differ and not force:
            raise UserError(f"{message}; export from a pool whose buckets match the fit's sizes, fit runs trained on this pool's buckets, or force it (--force)")
        if differ:
            notes.append(Note("bucket-sizes-differ", f"{message} (forced)", "warning",
                              {"pool": name, "fit": {b: x for b, (x, _) in differ.items()}, "pool_sizes": {b: y for b, (_, y) in differ.items()}}))
        for b, s in found.items():
            sizes[b], origin[b] = float(s), f"pool {name}"
    if sizes:
        shown = ", ".join(f"{b} {sizes[b]:.4g} ({origin[b]})" for b in buckets if b in sizes)
        notes.append(Note("bucket-sizes", f"bucket sizes (samples): {shown}", "info",
                          {"sizes": {b: sizes[b] for b in buckets if b in sizes}, "sources": {b: origin[b] for b in buckets if b in sizes}}))
    return sizes, notes
