"""Pipelines from TOML files, and registering a bucketized pool in the run registry."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from curascale.errors import UserError


@dataclass(frozen=True)
class PipelineSpec:
    """A parsed pipeline file: the pool, the output folder (both relative to the file), the steps."""

    pool: Path
    out: Path
    steps: list
    exclusions: bool = False


def load_pipeline(path: str | Path) -> PipelineSpec:
    """Read `pool`, `out`, `exclusions` and the `[[steps]]` tables of a TOML pipeline file.

    Errors name the file (and the step's position); see `curation.steps.build_step` for the steps."""
    from curation.steps import build_step

    path = Path(path)
    try:
        spec = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not valid TOML ({error})") from None
    for key in ("pool", "out", "steps"):
        if key not in spec:
            raise UserError(f"{path}: missing '{key}'")
    if not isinstance(spec["steps"], list) or not all(isinstance(entry, dict) for entry in spec["steps"]):
        raise UserError(f"{path}: 'steps' must be [[steps]] tables")
    base = path.parent
    steps = [build_step(dict(entry), source=f"{path}, step {i + 1}", base=base) for i, entry in enumerate(spec["steps"])]
    return PipelineSpec(base / str(spec["pool"]), base / str(spec["out"]), steps, bool(spec.get("exclusions", False)))


def register_buckets(db, pool_dir: str | Path, step, report) -> tuple[str, str]:
    """Register the pool and the buckets a `Bucketize` step wrote (sizes from the run's report);
    returns (pool name, registry path)."""
    from runs_db.registry import connect

    registry = connect(db)
    pool_dir = Path(pool_dir).resolve()
    pool = next(iter(report.outputs.values()))["pool"]
    registry.register_pool(pool_dir.name, source=str(pool_dir), size_samples=pool["rows"], fingerprint=pool["fingerprint"])
    registry.register_buckets(pool_dir.name, [
        {"name": name, "score_column": step.by, "quantile_lo": lo, "quantile_hi": hi, "size_samples": report.outputs[name]["samples"]}
        for name, lo, hi in zip(step.buckets, step.edges, step.edges[1:])
    ])
    return pool_dir.name, str(registry.path)
