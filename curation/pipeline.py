"""Pipelines from TOML files, and registering a bucketized pool in the run registry."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from curascale.errors import UserError

PIPELINE_KEYS = ("pool", "out", "steps", "exclusions", "on_duplicate", "batch_size")  # a pipeline file's top-level keys


@dataclass(frozen=True)
class PipelineSpec:
    """A parsed pipeline file: the pool, the output folder (both relative to the file, or URLs:
    strings such as "s3://bucket/dir"), the steps.
    With image steps (decode_images, text_detect, ...: they come first), `pool` is a folder of
    WebDataset shards and `image_steps` run over them before `steps` run over their scores."""

    pool: Path | str
    out: Path | str
    steps: list
    exclusions: bool = False
    on_duplicate: str = "keep-first"
    image_steps: tuple = ()
    batch_size: int = 32


def run_pipeline(spec: PipelineSpec, *, workers: int | None = None, progress: bool = True):
    """Run a parsed pipeline with the local engine; returns its RunReport."""
    from curation.engines.local import LocalEngine
    from curation.images import run_with_images
    from curation.pool import Pool

    engine = LocalEngine(workers=workers, progress=progress)
    if spec.image_steps:
        return run_with_images(spec.pool, spec.image_steps, spec.steps, spec.out, local=engine, batch_size=spec.batch_size, exclusions=spec.exclusions, on_duplicate=spec.on_duplicate)
    return engine.run(Pool.open(spec.pool), spec.steps, spec.out, exclusions=spec.exclusions, on_duplicate=spec.on_duplicate)


def load_pipeline(path: str | Path) -> PipelineSpec:
    """Read `pool`, `out`, `exclusions` and the `[[steps]]` tables of a TOML pipeline file.

    Errors name the file (and the step's position); see `curation.steps.build_step` for the steps."""
    from curation.fs import location
    from curation.steps import build_step
    from curation.steps.base import ImageStep

    path = Path(path)
    try:
        spec = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not valid TOML ({error})") from None
    unknown = [key for key in spec if key not in PIPELINE_KEYS]
    if unknown:
        raise UserError(f"{path}: unknown key {unknown[0]!r} (allowed: {', '.join(PIPELINE_KEYS)})")
    for key in ("pool", "out", "steps"):
        if key not in spec:
            raise UserError(f"{path}: missing '{key}'")
    if not isinstance(spec["steps"], list) or not all(isinstance(entry, dict) for entry in spec["steps"]):
        raise UserError(f"{path}: 'steps' must be [[steps]] tables")
    if spec.get("on_duplicate", "keep-first") not in ("keep-first", "error"):
        raise UserError(f"{path}: 'on_duplicate' must be keep-first or error, got {spec['on_duplicate']!r}")
    for key, kind in (("pool", str), ("out", str), ("exclusions", bool), ("on_duplicate", str), ("batch_size", int)):
        if key in spec and (not isinstance(spec[key], kind) or (kind is int and (isinstance(spec[key], bool) or spec[key] < 1))):
            raise UserError(f"{path}: '{key}' must be a {dict(str='string', bool='boolean', int='positive integer')[kind.__name__]}, got {spec[key]!r}")
    base = path.parent
    steps = [build_step(dict(entry), source=f"{path}, step {i + 1}", base=base) for i, entry in enumerate(spec["steps"])]
    images = [isinstance(step, ImageStep) for step in steps]
    if any(images[images.index(False):] if False in images else []):
        raise UserError(f"{path}, step {images.index(False) + 1 + images[images.index(False):].index(True)}: image steps come before the steps over the pool's table")
    count = images.count(True)
    return PipelineSpec(location(spec["pool"], base), location(spec["out"], base), steps[count:], spec.get("exclusions", False), spec.get("on_duplicate", "keep-first"),
                        tuple(steps[:count]), spec.get("batch_size", 32))


def register_buckets(db, pool_dir: str | Path, step, report) -> tuple[str, str, list[str]]:
    """Register the pool and the buckets a `Bucketize` step wrote (sizes: the unique samples of
    the run's report), except the degenerate ones (`bucket-degenerate` notes of the report);
    returns (pool name, registry path, the names registered)."""
    from runs_db.registry import connect

    from curation.fs import is_url

    registry = connect(db)
    pool_dir = str(pool_dir).rstrip("/") if is_url(str(pool_dir)) else Path(pool_dir).resolve()
    pool = next(iter(report.outputs.values()))["pool"]
    skipped = {note.details.get("bucket") for note in report.notes if note.code == "bucket-degenerate"}
    buckets = [(name, lo, hi) for name, lo, hi in zip(step.buckets, step.edges, step.edges[1:]) if name not in skipped]
    pool_name = pool_dir.rsplit("/", 1)[-1] if isinstance(pool_dir, str) else pool_dir.name
    registry.register_pool(pool_name, source=str(pool_dir), size_samples=pool["rows"], fingerprint=pool["fingerprint"])
    if buckets:
        registry.register_buckets(pool_name, [
            {"name": name, "score_column": step.score_column, "quantile_lo": lo, "quantile_hi": hi, "size_samples": report.outputs[name]["samples"]}
            for name, lo, hi in buckets
        ])
    return pool_name, str(registry.path), [name for name, _, _ in buckets]
