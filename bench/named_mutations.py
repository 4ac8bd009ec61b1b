"""The bugs issue #19 names, each put into a copy of the checkout and run against its tests.

Each mutation is one exact text replacement (the old text must occur exactly once, so a drift of
the code is an error here, not a silent pass) and the tests that should notice it. For each, the
tests run in a copy of the checkout (tracked and untracked files, not ignored ones) with only that
mutation applied, `pytest -x`: the first failing test is printed, or SURVIVED. Not part of CI: it
takes minutes.

    PY=/work/main/.venv/bin/python bench/named_mutations.py            every mutation
    bench/named_mutations.py probability-best-one fingerprint-constant  only these
    bench/named_mutations.py --baseline                                 also run each selection unmutated first

Exit status 1 when any mutation survives (or a baseline fails).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutation:
    name: str
    what: str  # the bug, in the words
    edits: tuple[tuple[str, str, str], ...]  # (file, old text, new text)
    tests: tuple[str, ...]  # pytest arguments


MUTATIONS = (
    Mutation("overtraining-eta", "over-training law's b M^-eta term with the wrong exponent",
             (("scaling/laws/overtraining.py", 'theta["b"] * multiplier ** (-eta)', 'theta["b"] * multiplier ** (-2 * eta)'),),
             ("tests/scaling/laws/test_overtraining.py",)),
    Mutation("precision-gamma-doubled", "precision factor with gamma doubled",
             (("scaling/laws/precision.py", "return 1.0 - jnp.exp(-bits / gamma + offset)", "return 1.0 - jnp.exp(-bits / (2 * gamma) + offset)"),),
             ("tests/scaling/laws/test_precision.py",)),
    Mutation("ptq-times-n-gamma", "PTQ term multiplying by N^gamma_N instead of dividing",
             (("scaling/laws/precision.py", '        / effective_parameters ** theta["ptq_param_exponent"]', '        * effective_parameters ** theta["ptq_param_exponent"]'),),
             ("tests/scaling/laws/test_precision.py",)),
    Mutation("chinchilla-g-a-b-swapped", "Chinchilla compute-optimal G with A and B swapped",
             (("scaling/laws/chinchilla.py", 'return (alpha * theta["A"] * capacity ** (-alpha) / (beta * theta["B"]))',
               'return (alpha * theta["B"] * capacity ** (-alpha) / (beta * theta["A"]))'),),
             ("tests/scaling/laws/test_chinchilla.py",)),
    Mutation("optimal-precision-argmax", "optimal precision (least loss over P) taken by argmax instead of argmin",
             (("scaling/plan_model.py", "best = bits[int(np.argmin([p.loss for p in found]))]", "best = bits[int(np.argmax([p.loss for p in found]))]"),),
             ("tests/scaling/test_plan_model.py",)),
    Mutation("optimal-bits-argmin", "compute-optimal precision (most f(P)/P) taken by argmin instead of argmax",
             (("scaling/plan_model.py", "best = bits[int(np.argmax(value))]", "best = bits[int(np.argmin(value))]"),),
             ("tests/scaling/test_plan_model.py",)),
    Mutation("probability-best-one", "probability_best always 1.0",
             (("scaling/plan.py", "float(np.mean(np.argmin(draws, axis=1) == order[0]))", "1.0"),),
             ("tests/scaling/test_plan_numerics.py",)),
    Mutation("bootstrap-min-max", "bootstrap intervals replaced by min-max",
             (("scaling/fit.py", "low, high = np.percentile(values, [tail, 100 - tail], axis=0)", "low, high = values.min(axis=0), values.max(axis=0)"),),
             ("tests/scaling/test_fit_intervals.py",)),
    Mutation("bootstrap-90", "bootstrap intervals narrowed to 90%",
             (("scaling/fit.py", "    tail = 50 * (1 - level)\n    names = list(draws[0])", "    tail = 50 * (1 - level) + 2.5\n    names = list(draws[0])"),),
             ("tests/scaling/test_fit_intervals.py",)),
    Mutation("held-out-seen", "held-out error computed from a fit that saw the held-out runs",
             (("scaling/fit.py", "kept = np.setdiff1d(np.arange(len(data)), held)", "kept = np.arange(len(data))"),),
             ("tests/scaling/test_fit_intervals.py",)),
    Mutation("fingerprint-constant", "the pool fingerprint returning a constant",
             (("curation/pool.py", "        return digest.hexdigest()\n", '        return "0" * 64\n'),),
             ("tests/curation/test_pool.py",)),
    Mutation("bucket-edge-off-by-3", "a bucket edge off by three ranks",
             (("curation/steps/bucketize.py", "return [int(self.rows * e / 100) for e in self.edges]",
               "return [int(self.rows * e / 100) + (3 if i == 1 else 0) for i, e in enumerate(self.edges)]"),),
             ("tests/curation/steps/test_bucketize.py",)),
    Mutation("repetition-weight-default", "the default repetition weight changed",
             (("curation/engines/local.py", "repetition = np.ones(kept_labels.size)", "repetition = np.full(kept_labels.size, 2.0)"),),
             ("tests/curation/steps/test_bucketize.py",)),
    Mutation("chinchilla-reference-constants", "the shipped Chinchilla reference constants changed (builder and shipped file together)",
             (("scaling/reference.py", '{"A": 482.01, "B": 2085.43,', '{"A": 482.1, "B": 2085.43,'),
              ("fits/reference/chinchilla-epoch.json", '"A": 482.01,', '"A": 482.1,')),
             ("tests/scaling/test_reference.py",)),
    Mutation("fit-plot-no-curve", "the fit plot no longer drawing the fitted curve",
             (("scaling/plots.py", "axis.plot(sweep[x], fit.predict(sweep), color=color, lw=1)", "pass"),),
             ("tests/scaling/test_plots.py",)),
)


def copy_checkout(destination: Path) -> None:
    """The checkout's tracked and untracked (not ignored) files, and the shared data beside it."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    shared = ROOT.parent / "shared"
    if shared.is_dir():
        (destination / "shared").symlink_to(shared)


def apply(tree: Path, mutation: Mutation) -> dict[Path, str]:
    """Apply the edits; returns the original text of each edited file. Each old text must occur once."""
    originals: dict[Path, str] = {}
    for name, old, new in mutation.edits:
        path = tree / name
        current = path.read_text()
        originals.setdefault(path, current)
        if current.count(old) != 1:
            raise SystemExit(f"{mutation.name}: {name} holds the text to mutate {current.count(old)} times, not once: update bench/named_mutations.py")
        path.write_text(current.replace(old, new))
    return originals


def run_tests(tree: Path, tests: tuple[str, ...], python: str) -> tuple[int, str]:
    """(pytest's exit status, its first FAILED/ERROR line)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([python, "-m", "pytest", "-x", "-q", "-rfE", "-p", "no:cacheprovider", *tests], cwd=tree, env=env,
                          capture_output=True, text=True)
    failed = [line for line in done.stdout.splitlines() if re.match(r"(FAILED|ERROR) ", line)]
    return done.returncode, (failed[0] if failed else done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="only these mutations (default: all)")
    parser.add_argument("--baseline", action="store_true", help="run each test selection on the unmutated copy first")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    args = parser.parse_args()
    python = os.environ.get("PY", sys.executable)
    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]
    unknown = set(args.names) - {m.name for m in MUTATIONS}
    if unknown:
        raise SystemExit(f"unknown mutation(s): {', '.join(sorted(unknown))}; see --list")
    if args.list:
        for m in MUTATIONS:
            print(f"{m.name:32} {m.what}")
        return 0
    survived = 0
    with tempfile.TemporaryDirectory(prefix="curascale-named-") as folder:
        tree = Path(folder)
        copy_checkout(tree)
        for mutation in chosen:
            started = time.monotonic()
            if args.baseline:
                status, line = run_tests(tree, mutation.tests, python)
                if status != 0:
                    print(f"{mutation.name}: BASELINE FAILS ({line})", flush=True)
                    survived += 1
                    continue
            originals = apply(tree, mutation)
            try:
                status, line = run_tests(tree, mutation.tests, python)
            finally:
                for path, text in originals.items():
                    path.write_text(text)
            seconds = time.monotonic() - started
            if status == 1:
                print(f"{mutation.name:32} killed   {line.removeprefix('FAILED ').removeprefix('ERROR ')}  ({seconds:.0f} s)", flush=True)
            else:
                survived += 1
                print(f"{mutation.name:32} SURVIVED (pytest exit {status}: {line})  ({seconds:.0f} s)", flush=True)
    print(f"{len(chosen) - survived} of {len(chosen)} named mutations fail a test")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
