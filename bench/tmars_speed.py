"""T-MARS speed: images per second per core for each stage alone (detection, masking, CLIP
scoring; one thread each), and for the whole pipeline on the local engine (reading, decoding,
all stages, writing), plus the pipeline's efficiency: the sum of the stage times alone divided by
the pipeline's time on one worker (1.0 = no overhead; above 1 = overlap). The whole pipeline is
also run with every core to give its throughput per core.

    python bench/tmars_speed.py [--images 200] [--clip-model ViT-B-32] [--batch-size 32]

CLIP runs with random weights (`--pretrained none`): the cost is the architecture's, not the
weights'. Images are the demo pool's 224 px pictures, half with rendered text.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--clip-model", default="ViT-B-32")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    import torch

    from curation.demo import write_demo_images, write_demo_pool
    from curation.engines.local import LocalEngine
    from curation.images import ImageStage
    from curation.steps.clip_rescore import ClipRescore
    from curation.steps.decode_images import DecodeImages
    from curation.steps.mask_text import MaskText
    from curation.steps.text_detect import TextDetect
    from curation.tmars import TmarsOptions, image_steps
    from curation.webdataset import chunks, read_shard, shard_paths

    cores = os.cpu_count() or 1
    root = Path(tempfile.mkdtemp(prefix="tmars-bench-"))
    try:
        write_demo_pool(root / "pool", args.images, shards=1, seed=11)
        write_demo_images(root / "pool", root / "shards", args.images, per_shard=max(1, args.images // 4), seed=11)
        options = TmarsOptions(clip_model=args.clip_model, pretrained=None, device="cpu")

        torch.set_num_threads(1)
        batches = []
        for path in shard_paths(root / "shards"):
            batches += chunks(read_shard(path).columns, args.batch_size)
        decode_s, decoded = timed(lambda: [DecodeImages()(b) for b in batches])
        detect = TextDetect(detector=options.detector)
        detect.setup(threads=1)
        detect_s, detected = timed(lambda: [detect(b) for b in decoded])
        mask_s, masked = timed(lambda: [MaskText(ring_width=options.ring_width)(b) for b in detected])
        clip = ClipRescore(model=options.clip_model, pretrained=None, device="cpu")
        clip.setup()
        clip_s, _ = timed(lambda: [clip(b) for b in masked])
        stages = {"decode": decode_s, "detect": detect_s, "mask": mask_s, "clip": clip_s}

        runs = {}
        for workers in (1, cores):  # one thread per worker
            stage = ImageStage(shard_paths(root / "shards"), image_steps(options), root / f"out-{workers}", batch_size=args.batch_size)
            runs[workers], _ = timed(LocalEngine(workers=workers, progress=False, threads_per_worker=1).run_images, stage)

        n = args.images
        print(f"T-MARS on {n} demo images (224 px, half with text), CLIP {args.clip_model} (random weights), batch {args.batch_size}, {cores} cores")
        print(f"{'stage (1 thread)':<24}{'seconds':>10}{'images/s/core':>16}")
        for name, seconds in stages.items():
            print(f"{name:<24}{seconds:>10.2f}{n / seconds:>16.1f}")
        print(f"{'pipeline, 1 worker':<24}{runs[1]:>10.2f}{n / runs[1]:>16.1f}")
        print(f"{f'pipeline, {cores} workers':<24}{runs[cores]:>10.2f}{n / runs[cores] / cores:>16.1f}")
        print(f"efficiency (sum of stages alone / pipeline on 1 worker): {sum(stages.values()) / runs[1]:.2f}")
        print(f"speed-up with {cores} workers: {runs[1] / runs[cores]:.2f}x")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
