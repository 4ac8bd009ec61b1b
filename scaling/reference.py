"""Reference fits built from the published constants of docs/laws.md, shipped in fits/reference/.

`build_reference_fits()` makes them; `python -m scaling.reference` writes them; a test checks
that the shipped files are exactly what this module builds, so the two cannot drift apart.
`load_fit(name_or_path)` finds a shipped fit by name (e.g. "reference/precision") or a file.
"""

from __future__ import annotations

from pathlib import Path

from curascale.datasets import load_dataset
from curascale.errors import UserError
from scaling.fit import Fit
from scaling.laws import get_law
from scaling.laws.data_constrained import PUBLISHED_BASE, PUBLISHED_DECAYS
from scaling.laws.precision import PUBLISHED as PRECISION
from scaling.laws.precision import PUBLISHED_FLOATING_POINT as PRECISION_FP

TMARS_BUCKETS = ["tmars_top0to10p", "tmars_top10to20p", "tmars_top20to30p", "tmars_top30to40p", "tmars_top0to40p_random25p"]
TMARS_PERCENTILE_RANGES = {"tmars_top0to10p": [0, 10], "tmars_top10to20p": [10, 20], "tmars_top20to30p": [20, 30], "tmars_top30to40p": [30, 40]}
TMARS_SOURCE = (
    "Goyal et al. 2024, 'Scaling Laws for Data Filtering' (docs/laws.md §3): ImageNet-1k zero-shot error, T-MARS buckets of "
    "DataComp medium, 12.8M samples each, fitted at 2-10 epochs; constants from the authors' results/parameter_values.jsonl"
)
TMARS = {
    "data_filtering_utility": (0.025, [-0.16, -0.125, -0.10, -0.085, -0.12], [6.7273, 8.5455, 5.2727, 2.2727, 6.0]),
    "data_filtering_effective_data": (0.022, [-0.18227, -0.14485, -0.13530, -0.09758, -0.14197], [4.0, 4.3636, 2.9091, 1.4545, 3.4545]),
}


def _reference(name: str, law_name: str, params: dict, provenance: str, *, groups=None, metadata=None, input_ranges=None) -> Fit:
    law = get_law(law_name)
    missing = [p.name for p in law.params if not p.per_group and p.name not in params]
    if missing:
        raise ValueError(f"{name}: missing {missing}")
    return Fit(
        law=law.name, law_version=law.version, params=params, objective=None, n_points=0, starts=0, starts_at_best=0,
        converged=True, data_hash="", target=law.target, inputs=list(law.inputs), groups=groups,
        source=f"reference/{name}", provenance=provenance, metadata=metadata or {}, input_ranges=input_ranges or {},
    )


def _tmars(name: str, law_name: str) -> Fit:
    scale, utilities, half_lives = TMARS[law_name]
    params = {"sample_scale": scale, "irreducible_error": 0.1}
    for bucket, utility, half_life in zip(TMARS_BUCKETS, utilities, half_lives):
        params[f"utility[{bucket}]"] = utility
        params[f"utility_half_life[{bucket}]"] = half_life
    metadata = {
        "bucket_size_samples": {bucket: 12_800_000 for bucket in TMARS_BUCKETS},
        "bucket_percentile_ranges": TMARS_PERCENTILE_RANGES,
        "nested_buckets": list(TMARS_PERCENTILE_RANGES),  # the unions top10, top20, ... (the random bucket is not one of them)
        "pool": "datacomp_medium",
    }
    # the paper's fit points: 2 to 10 epochs of 12.8M-sample buckets (docs/laws.md §3)
    ranges = {"samples_seen": [2 * 12_800_000.0, 10 * 12_800_000.0], "unique_samples": [12_800_000.0, 12_800_000.0]}
    return _reference(name, law_name, params, TMARS_SOURCE, groups=sorted(TMARS_BUCKETS), metadata=metadata,
                      input_ranges={k: v for k, v in ranges.items() if k in get_law(law_name).inputs})


def runs_ranges(dataset: str, inputs, *, query: str | None = None) -> dict[str, list[float]]:
    """[smallest, largest] of each of `inputs` over the runs of a shipped dataset (curascale.datasets)
    that a published fit was fitted on (`query` selects them): the range the reference fit saw, so
    a plan or prediction past it is flagged as an extrapolation (scaling.diagnostics)."""
    frame = load_dataset(dataset)
    frame = frame.query(query) if query else frame
    return {name: [float(frame[name].min()), float(frame[name].max())] for name in inputs}


def build_reference_fits() -> dict[str, Fit]:
    from scaling.plan_model import PAPER_GRID  # Kumar et al.'s fit grid: N 30M-220M, D 1.5B-26B (docs/laws.md §4)

    precision_ranges = {name: list(bounds) for name, bounds in PAPER_GRID.items()}
    fits = [
        _tmars("tmars-imagenet-utility", "data_filtering_utility"),
        _tmars("tmars-imagenet-effective-data", "data_filtering_effective_data"),
        _reference(
            "precision", "precision_ptq", dict(PRECISION),
            "Kumar et al. 2024, 'Scaling Laws for Precision', Table 2, integer types (docs/laws.md §4): offsets n_w, n_a, n_kv in the exponents "
            "as in their App. K; ptq_scale = C_T e^b = 0.0598 e^1.1277 (our reading: only the product is identifiable); alpha tied to beta",
            input_ranges=precision_ranges,
        ),
        _reference(
            "precision-fp", "precision_ptq", dict(PRECISION_FP),
            "Kumar et al. 2024, 'Scaling Laws for Precision', App. N (docs/laws.md §4): floating-point weights, gamma_w = 2.8111 with bias n_w = 0.1240; "
            "activations, KV cache and PTQ as Table 2 (integer types); alpha tied to beta",
            input_ranges=precision_ranges,
        ),
        _reference(
            "chinchilla-epoch", "chinchilla", {"A": 482.01, "B": 2085.43, "E": 1.8172, "alpha": 0.3478, "beta": 0.3658},
            "Besiroglu et al. 2024, the Epoch AI replication of Chinchilla Approach 3 on 240 points (docs/laws.md §1); "
            "input ranges: those 240 runs (curascale dataset chinchilla, in_besiroglu_fit == 1)",
            input_ranges=runs_ranges("chinchilla", ("params", "tokens"), query="in_besiroglu_fit == 1"),
        ),
        _reference(
            "data-constrained", "data_constrained", {**PUBLISHED_BASE, **PUBLISHED_DECAYS},
            "Muennighoff et al. 2023, README 'Parametric Fit' (docs/laws.md §2): base refit on Chinchilla's C4 IsoFLOP points, R*_D and R*_N fitted; "
            "input ranges: the 182 runs R*_D and R*_N were fitted on (curascale dataset datablations)",
            input_ranges=runs_ranges("datablations", ("params", "tokens", "unique_tokens")),
        ),
    ]
    return {fit.source: fit for fit in fits}


def shipped_fits_dir() -> Path:
    """The shipped `fits/` package beside this one, found from this file's own location, never
    through the import system: a `fits/` (or `scaling/`) folder in the working directory, which
    Python may take for a namespace package, must not hide the shipped fits."""
    return Path(__file__).resolve().parent.parent / "fits"


def load_fit(name_or_path: str) -> Fit:
    """A shipped fit by name ('reference/precision' or 'precision'), else a fit artifact by path.

    A shipped name always means the package's fit, even when a file of that relative path
    exists in the working directory: to load your own file ``reference/precision``, write it as
    a path, ``./reference/precision`` (or give it a ``.json`` suffix). Raises `UserError` when
    neither a shipped fit nor a file matches, listing the shipped names."""
    path = Path(name_or_path)
    is_path = path.suffix == ".json" or str(name_or_path).startswith(("./", "../", "/", "~")) or path.is_absolute()
    if not is_path:
        for candidate in (name_or_path, f"reference/{name_or_path}"):
            shipped = shipped_fits_dir() / f"{candidate}.json"
            if ".." not in Path(candidate).parts and shipped.exists():
                return Fit.load(shipped)
    if is_path or path.exists():
        return Fit.load(path)
    names = sorted(f"reference/{p.stem}" for p in (shipped_fits_dir() / "reference").glob("*.json"))
    raise UserError(f"no fit named {name_or_path!r}: give a file or one of {', '.join(names)}")


if __name__ == "__main__":
    for source, fit in build_reference_fits().items():
        fit.save(shipped_fits_dir() / f"{source}.json")
        print(f"wrote fits/{source}.json")
