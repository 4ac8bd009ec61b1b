"""`curascale curate ...`: demo pools, DataComp baseline filters, buckets, pipelines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from curascale.cli import render
from curascale.cli.options import DbOption, at_least
from curascale.errors import UserError
from curation.scores import DEFAULT_SCORE_COLUMN

app = typer.Typer(help="Score, filter and bucket DataComp-format pools; write manifests for training.", no_args_is_help=True, rich_markup_mode=None)  # help text is never markup: [[steps]] prints as written

PoolArgument = Annotated[str, typer.Argument(help="A DataComp pool: a folder of parquet shards (+ .npz embeddings beside each), local or a URL (s3://bucket/pool, gs://..., hf://...).")]
OutOption = Annotated[str, typer.Option("--out", help="Output directory, local or a URL (s3://bucket/dir, gs://...; published as one set when the run succeeds): subset.npy (DataComp), manifest.parquet, manifest.json.")]
WorkersOption = Annotated[Optional[int], typer.Option(help="Shards processed in parallel (default: cores, at most 8).")]
SubsetOnlyOption = Annotated[bool, typer.Option("--subset-only", help="Write only subset.npy (DataComp's output) and the sidecar: no parquet manifest, no url/text read.")]
ExclusionsOption = Annotated[bool, typer.Option("--exclusions", help="Also write exclusions.parquet: every dropped uid with its shard, row (1-based, within the shard), step and reason (the rule).")]
OnDuplicateOption = Annotated[str, typer.Option("--on-duplicate", help="A uid on more than one row: keep-first (the first copy that passes every step; all reported) or error.")]
ScoreColumnOption = Annotated[str, typer.Option("--score-column", help="The score column to cut on.")]
LidOption = Annotated[Optional[Path], typer.Option(help="fastText language identifier (e.g. lid.176.bin); default: the bundled lid.176.ftz.")]
FractionOption = Annotated[Optional[float], typer.Option("--fraction", help="Keep the top FRACTION of the pool (DataComp's rule, ties kept; rows without a score count in the pool, never kept).")]


def _run(pool_dir: str, steps, out: str, workers, exclusions: bool = False, subset_only: bool = False, on_duplicate: str = "keep-first"):
    from curation.engines.local import LocalEngine
    from curation.fs import location
    from curation.pool import Pool

    report = LocalEngine(workers=workers).run(Pool.open(location(pool_dir)), steps, location(out), exclusions=exclusions, subset_only=subset_only, on_duplicate=on_duplicate)
    return _report(report, out)


def _report(report, out):
    for count in report.counts:
        render.line("{}: {} in, {} out", count["step"], f"{count['in']:,}", f"{count['out']:,}")
    for label, record in report.outputs.items():
        render.line("{}: {} samples", f"{str(out).rstrip('/')}/{label}" if label else out, f"{record['samples']:,}")
    render.notes(report.notes, err=True)
    return report


def _alias(value, old, old_flag: str, new_flag: str):
    """The value of an option given under its new name or its hidden old one (not both)."""
    if old is None:
        return value
    if value is not None and value != old:
        raise UserError(f"{old_flag} is an old name of {new_flag}; give one of them")
    return old


@app.command("demo-pool")
def demo_pool(
    out_dir: Annotated[Path, typer.Argument(help="Where to write the pool's parquet shards.")],
    rows: Annotated[int, typer.Option(help="Samples in the pool.")] = 10_000,
    shards: Annotated[int, typer.Option(help="Parquet shards.")] = 4,
    with_npz: Annotated[bool, typer.Option("--with-npz", help="Also write CLIP embeddings (.npz) beside each shard.")] = False,
    with_images: Annotated[int, typer.Option("--with-images", help="Also write images for the first M samples as WebDataset tars in OUT_DIR/images/, some with rendered text.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed: the same arguments write the same bytes.", callback=at_least(0, "--seed"))] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Clear OUT_DIR first when it holds an earlier pool (only pool files: shards, embeddings, images/).")] = False,
) -> None:
    """Write a realistic synthetic DataComp pool."""
    from curation.demo import write_demo_images, write_demo_pool

    if rows < 1 or shards < 1 or shards > rows:
        raise UserError("--rows and --shards must be positive, with no more shards than rows")
    if not 0 <= with_images <= rows:
        raise UserError("--with-images must be between 0 and --rows")
    paths = write_demo_pool(out_dir, rows, shards=shards, with_npz=with_npz, seed=seed, overwrite=overwrite)
    render.echo(f"wrote {rows:,} samples in {len(paths)} shards to {out_dir}")
    if with_images:
        tars = write_demo_images(out_dir, Path(out_dir) / "images", with_images, seed=seed)
        render.echo(f"wrote {with_images:,} images in {len(tars)} WebDataset shards to {Path(out_dir) / 'images'}")


@app.command("clip-score")
def clip_score(
    pool_dir: PoolArgument,
    out: OutOption,
    arch: Annotated[str, typer.Option(help="b32 or l14: which precomputed CLIP score.")] = "l14",
    threshold: Annotated[Optional[float], typer.Option(help="Keep score >= THRESHOLD (compared in the column's stored precision, as DataComp does).")] = None,
    fraction: FractionOption = None,
    exclusions: ExclusionsOption = False,
    subset_only: SubsetOnlyOption = False,
    on_duplicate: OnDuplicateOption = "keep-first",
    workers: WorkersOption = None,
) -> None:
    """DataComp's CLIP-score baseline filter."""
    from curation.steps.clip_score import ClipScore

    _run(pool_dir, [ClipScore(arch=arch, threshold=threshold, fraction=fraction)], out, workers, exclusions, subset_only, on_duplicate)


@app.command()
def basic(
    pool_dir: PoolArgument,
    out: OutOption,
    lid_model: LidOption = None,
    exclusions: ExclusionsOption = False,
    subset_only: SubsetOnlyOption = False,
    on_duplicate: OnDuplicateOption = "keep-first",
    workers: WorkersOption = None,
) -> None:
    """DataComp's basic filter: English captions of > 2 words and > 5 characters, images >= 200 px, aspect <= 3."""
    from curation.steps.basic import Basic

    _run(pool_dir, [Basic(lid_model=None if lid_model is None else str(lid_model))], out, workers, exclusions, subset_only, on_duplicate)



@app.command("no-filter")
def no_filter(
    pool_dir: PoolArgument,
    out: OutOption,
    exclusions: ExclusionsOption = False,
    subset_only: SubsetOnlyOption = False,
    on_duplicate: OnDuplicateOption = "keep-first",
    workers: WorkersOption = None,
) -> None:
    """DataComp's no_filter baseline: every sample of the pool."""
    from curation.steps.no_filter import NoFilter

    _run(pool_dir, [NoFilter()], out, workers, exclusions, subset_only, on_duplicate)


@app.command()
def laion2b(
    pool_dir: PoolArgument,
    out: OutOption,
    language_id: Annotated[str, typer.Option(help="Language identifier: fasttext (lid.176) or gcld3 (DataComp's; needs gcld3 installed).")] = "fasttext",
    lid_model: LidOption = None,
    exclusions: ExclusionsOption = False,
    subset_only: SubsetOnlyOption = False,
    on_duplicate: OnDuplicateOption = "keep-first",
    workers: WorkersOption = None,
) -> None:
    """DataComp's laion2b baseline: CLIP B/32 score >= 0.28 and an English caption."""
    from curation.steps.laion2b import Laion2b

    _run(pool_dir, [Laion2b(language_id=language_id, lid_model=None if lid_model is None else str(lid_model))], out, workers, exclusions, subset_only, on_duplicate)


@app.command("text-based")
def text_based(
    pool_dir: PoolArgument,
    out: OutOption,
    synsets: Annotated[Optional[Path], typer.Option(help="ImageNet-21k WordNet ids, one a line (default: timm's imagenet21k_goog_synsets.txt).")] = None,
    wordnet: Annotated[Optional[Path], typer.Option(help="WordNet 3.0 dict folder (default: /usr/share/wordnet, Debian's wordnet-base).")] = None,
    lid_model: LidOption = None,
    exclusions: ExclusionsOption = False,
    subset_only: SubsetOnlyOption = False,
    on_duplicate: OnDuplicateOption = "keep-first",
    workers: WorkersOption = None,
) -> None:
    """DataComp's text_based baseline: English captions with a word whose first WordNet sense is an ImageNet-21k class."""
    from curation.steps.text_based import TextBased

    from curation.wordnet import WORDNET_MISSING, is_wordnet_folder

    if wordnet is not None and not is_wordnet_folder(wordnet):  # the library names its parameter; here the flag
        raise UserError(f"--wordnet {wordnet}: {WORDNET_MISSING} as --wordnet FOLDER")
    step = TextBased(synsets=None if synsets is None else str(synsets), wordnet=None if wordnet is None else str(wordnet), lid_model=None if lid_model is None else str(lid_model))
    _run(pool_dir, [step], out, workers, exclusions, subset_only, on_duplicate)


@app.command("image-based")
def image_based(
    pool_dir: PoolArgument,
    out: OutOption,
    targets: Annotated[Path, typer.Option(help="Target L/14 image embeddings, an (n, 768) .npy (e.g. ImageNet-1k train).")],
    centroids: Annotated[Optional[Path], typer.Option(help="Pool centroids, a (k, 768) .npy (e.g. DataComp's); default: k-means of the pool's l14_img.")] = None,
    clusters: Annotated[int, typer.Option(help="k-means centroids when --centroids is not given (DataComp: 100,000).")] = 100_000,
    arch: Annotated[str, typer.Option(help="With --threshold/--fraction: b32 or l14 CLIP score to intersect with.")] = "l14",
    threshold: Annotated[Optional[float], typer.Option(help="Also require CLIP score >= THRESHOLD (image_based_intersect_clip_score).")] = None,
    fraction: Annotated[Optional[float], typer.Option(help="Also require the top FRACTION of the pool by CLIP score.")] = None,
    seed: Annotated[int, typer.Option(help="k-means seed.", callback=at_least(0, "--seed"))] = 0,
    lid_model: LidOption = None,
    exclusions: ExclusionsOption = False,
    subset_only: SubsetOnlyOption = False,
    on_duplicate: OnDuplicateOption = "keep-first",
    workers: WorkersOption = None,
) -> None:
    """DataComp's image_based baseline (with --threshold or --fraction: image_based ∩ clip_score)."""
    from curation.steps.image_based import ImageBased, ImageBasedClipScore

    options = {"targets": str(targets), "centroids": None if centroids is None else str(centroids), "clusters": clusters, "seed": seed, "lid_model": None if lid_model is None else str(lid_model)}
    step = ImageBased(**options) if threshold is None and fraction is None else ImageBasedClipScore(**options, arch=arch, threshold=threshold, fraction=fraction)
    _run(pool_dir, [step], out, workers, exclusions, subset_only, on_duplicate)


@app.command()
def bucketize(
    pool_dir: PoolArgument,
    out: OutOption,
    score_column: ScoreColumnOption = DEFAULT_SCORE_COLUMN,
    by: Annotated[Optional[str], typer.Option("--by", hidden=True)] = None,
    edges: Annotated[str, typer.Option(help="Top-percentile edges, e.g. 0,10,20,30,40 for four 10% buckets.")] = "0,10,20,30,40",
    db: DbOption = None,
    register: Annotated[bool, typer.Option(help="Register the pool and its buckets in the run registry (degenerate buckets are left out, with a warning).")] = True,
    exclusions: ExclusionsOption = False,
    on_duplicate: OnDuplicateOption = "keep-first",
    workers: WorkersOption = None,
) -> None:
    """Quality buckets by percentile of a score; one set of manifests per bucket in OUT/<bucket>/."""
    from curation.steps.bucketize import Bucketize

    score_column = _alias(score_column if score_column != DEFAULT_SCORE_COLUMN else None, by, "--by", "--score-column") or DEFAULT_SCORE_COLUMN
    try:
        cut = tuple(float(e) for e in edges.split(","))
    except ValueError:
        raise UserError(f"--edges takes numbers separated by commas, got {edges!r}") from None
    step = Bucketize(score_column=score_column, edges=cut)
    report = _run(pool_dir, [step], out, workers, exclusions, on_duplicate=on_duplicate)
    if register:
        from curation.pipeline import register_buckets

        name, path, registered = register_buckets(db, pool_dir, step, report)
        render.line("registered {} of {} buckets of {} in {}", len(registered), len(step.buckets), name, path)


@app.command("run")
def run_pipeline(
    pipeline: Annotated[Path, typer.Argument(help="A TOML file: pool, out, and [[steps]] tables (any step by name: basic, clip_score, score_filter, bucketize, text_match, no_filter, laion2b, text_based, image_based, image_based_clip_score; image steps first over WebDataset shards).")],
    workers: WorkersOption = None,
) -> None:
    """Run a chain of steps from a TOML file.

    \b
    pool = "pool/"
    out = "out/"
    [[steps]]
    step = "basic"
    [[steps]]
    step = "clip_score"
    arch = "l14"
    fraction = 0.3
    """
    from curation.pipeline import load_pipeline, run_pipeline

    spec = load_pipeline(pipeline)
    _report(run_pipeline(spec, workers=workers), spec.out)


@app.command()
def tmars(
    shards_dir: Annotated[str, typer.Argument(help="WebDataset .tar shards ({key}.jpg|png|webp, .txt, .json with the uid), local or a URL (s3://bucket/images, ...).")],
    out: Annotated[str, typer.Option("--out", help="Output directory, local or a URL: scores/ (every readable image's scores), subset.npy, manifest.parquet, manifest.json.")],
    detector: Annotated[str, typer.Option(help="Text detector: rapidocr (bundled models), tesseract or easyocr.")] = "rapidocr",
    clip_model: Annotated[str, typer.Option(help="open_clip model name (ViT-L-14, ViT-B-32, ...; curascale-tiny-clip for offline demos).")] = "ViT-L-14",
    pretrained: Annotated[str, typer.Option(help="open_clip weights tag (openai, laion2b_s32b_b82k, ...), from your cache or the hub; 'none' for random weights.")] = "openai",
    fraction: Annotated[Optional[float], typer.Option("--fraction", help="Keep the top FRACTION of the readable images by tmars_score (DataComp's fraction rule).")] = None,
    keep_fraction: Annotated[Optional[float], typer.Option("--keep-fraction", hidden=True)] = None,
    threshold: Annotated[Optional[float], typer.Option(help="Keep tmars_score >= THRESHOLD instead of a fraction.")] = None,
    text_match: Annotated[Optional[float], typer.Option(help="Also apply the text-match baseline: drop pairs whose caption words are found in the image text above this share.")] = None,
    unmasked_score: Annotated[bool, typer.Option("--unmasked-score", help="Also score the unmasked image with the same model (column clip_score).")] = False,
    ring_width: Annotated[int, typer.Option(help="Pixels around each text region whose mean colour fills it.")] = 3,
    engine: Annotated[str, typer.Option(help="local (threads on this machine) or ray (Ray Data).")] = "local",
    batch_size: Annotated[int, typer.Option(help="Images per model batch.")] = 32,
    device: Annotated[Optional[str], typer.Option(help="torch device for CLIP (default: cuda when available, else cpu).")] = None,
    workers: WorkersOption = None,
    address: Annotated[Optional[str], typer.Option(help="Ray: join this cluster ('auto' or host:port) instead of starting a local instance.")] = None,
    num_gpus: Annotated[float, typer.Option(help="Ray: GPUs per CLIP actor.")] = 0.0,
    actors: Annotated[int, typer.Option(help="Ray: actors per model step.")] = 1,
    seed: Annotated[int, typer.Option(help="Seed for random CLIP weights (--pretrained none).", callback=at_least(0, "--seed"))] = 0,
) -> None:
    """T-MARS: detect text, mask it, re-score with CLIP, keep the best pairs."""
    from curation.tmars import TmarsOptions, run_tmars

    if engine not in ("local", "ray"):
        raise UserError(f"--engine must be local or ray, got {engine!r}")
    fraction = _alias(fraction, keep_fraction, "--keep-fraction", "--fraction")
    if threshold is None and fraction is None:
        fraction = 0.5
    if batch_size < 1 or ring_width < 0:
        raise UserError("--batch-size must be positive and --ring-width non-negative")
    options = TmarsOptions(detector=detector, clip_model=clip_model, pretrained=None if pretrained.lower() == "none" else pretrained, ring_width=ring_width, text_match=text_match, unmasked_score=unmasked_score, device=device, seed=seed)
    runner = None
    if engine == "ray":
        from curation.engines.ray import RayEngine

        runner = RayEngine(address=address, num_cpus=workers, actors=actors, num_gpus=num_gpus)
    from curation.fs import location

    report = run_tmars(shards_dir, location(out), options=options, fraction=fraction, threshold=threshold, engine=runner, batch_size=batch_size, workers=workers)
    record = report.outputs[""]
    images = record["images"]
    render.line("images: {} in {} shards, {} scored, {} unreadable (listed in {})", f"{images['samples']:,}", len(images["shards"]),
                f"{images['scored']:,}", f"{images['unreadable_count']:,}", f"{out.rstrip('/')}/manifest.json")
    for count in report.counts:
        render.line("{}: {} in, {} out", count["step"], f"{count['in']:,}", f"{count['out']:,}")
    render.line("{}: {} samples; all scores in {}", out, f"{record['samples']:,}", f"{out.rstrip('/')}/scores")
