#!/usr/bin/env bash
# Mutation testing with mutmut 3 (the `test` extra): small deliberate bugs are put into the code,
# one at a time, and the tests that exercise the mutated function are run; a mutant the tests
# do not notice "survives". Not part of CI: it is slow.
#
#   bench/mutation.sh                 every target below
#   bench/mutation.sh laws plan       only those targets
#   MUTATION_JOBS=2 PY=/path/to/python bench/mutation.sh pool
#   MUTATION_SAMPLE=5 MUTATION_SEED=19 bench/mutation.sh runs_db
#                                     a random sample of 5 of the target's functions (for a target
#                                     too large to run whole; the drawn functions are printed)
#
# Each target is a set of files to mutate and the tests allowed to kill their mutants (mutmut
# runs, for each mutant, only the selected tests that call the mutated function). Each target
# runs in its own copy of the checkout under $MUTATION_WORK (default: a temporary folder), so the
# checkout is never modified. Prints killed / survived / no tests / timeout per target, then the
# surviving mutants (see one with `cd $MUTATION_WORK/TARGET && mutmut show NAME`); the survivors
# shown equivalent are listed, each with its reason, in bench/mutation_equivalents.md.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PY:-$ROOT/.venv/bin/python}"
MUTMUT="$(dirname "$PY")/mutmut"
JOBS="${MUTATION_JOBS:-1}"
WORK="${MUTATION_WORK:-$(mktemp -d -t curascale-mutation.XXXXXX)}"
SHARED="$(cd "$ROOT/.." && pwd)/shared"
# compiled XLA programs are reused across mutants (a mutant that changes a traced function
# changes its program, so it is compiled anew)
export JAX_COMPILATION_CACHE_DIR="$WORK/jax-cache" JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=0

# target | files to mutate (globs) | tests (pytest arguments) | optional: only the mutants of these
# functions (module.function, or module.Class.method); fields space-separated. MUTATION_TARGETS replaces the whole
# table (e.g. to measure an older test suite).
TARGETS="${MUTATION_TARGETS:-
laws|scaling/laws/chinchilla.py scaling/laws/data_constrained.py scaling/laws/data_filtering.py scaling/laws/overtraining.py scaling/laws/specialized.py scaling/laws/precision.py|tests/scaling/laws|scaling.laws.chinchilla.* scaling.laws.data_constrained.* scaling.laws.overtraining.* scaling.laws.specialized.* scaling.laws.precision.precision_factor scaling.laws.precision.capacity scaling.laws.precision.domain_floor scaling.laws.precision.check_domain scaling.laws.precision.effective_params scaling.laws.precision.training_loss scaling.laws.precision.ptq_degradation_at scaling.laws.precision.ptq_degradation scaling.laws.precision.quantized_loss scaling.laws.precision.trained_precision_factor scaling.laws.precision.unified_quantized_loss scaling.laws.precision.critical_tokens scaling.laws.precision.training_compute scaling.laws.data_filtering.epoch_axis scaling.laws.data_filtering._decays scaling.laws.data_filtering._epoch_grid scaling.laws.data_filtering.union_log_error_utility scaling.laws.data_filtering.union_error_effective_data scaling.laws.data_filtering._bucket_arguments scaling.laws.data_filtering.log_error_utility scaling.laws.data_filtering.error_utility scaling.laws.data_filtering.error_effective_data scaling.laws.data_filtering.prepare
plan|scaling/plan.py|tests/scaling/test_plan.py tests/scaling/test_plan_numerics.py|scaling.plan.candidate_unions scaling.plan.effective_buckets scaling.plan._errors scaling.plan.with_mixture scaling.plan.plan_data scaling.plan.sweep_data scaling.plan.optimal_mixture scaling.plan.accuracy_interval
plan_model|scaling/plan_model.py|tests/scaling/test_plan_model.py tests/scaling/test_plan_numerics.py|scaling.plan_model.params_times_tokens scaling.plan_model._best_params scaling.plan_model.optimum_at scaling.plan_model.optimal_bits scaling.plan_model._best_bits scaling.plan_model.best_point scaling.plan_model.capacity scaling.plan_model._capacity_grid scaling.plan_model.optimal_precision scaling.plan_model._best_ratio scaling.plan_model.quantization_cost scaling.plan_model._overtraining scaling.plan_model.plan_specialized scaling.plan_model._alternatives scaling.plan_model._constraints scaling.plan_model._check_params_fit_budget
fit|scaling/fit.py|tests/scaling/test_fit_intervals.py|scaling.fit.percentile_intervals scaling.fit.held_out_error scaling.fit.bootstrap_draws scaling.fit.holdout_rows scaling.fit.Fit.predict_interval
pool|curation/pool.py|tests/curation/test_pool.py tests/curation/engines/test_duplicates.py
manifest|curation/manifest.py|tests/curation/test_manifest.py
scaling|scaling/problem.py scaling/frames.py scaling/units.py scaling/handoff.py scaling/reference.py|tests/scaling/test_units.py tests/scaling/test_frames.py tests/scaling/test_fit.py tests/scaling/test_bucket_sizes.py tests/scaling/test_fit_files.py tests/scaling/test_fit_intervals.py tests/scaling/test_handoff.py tests/scaling/test_reference.py
solver|scaling/solver.py|tests/scaling/test_solver.py
runs_db|runs_db/*.py|tests/runs_db
curation|curation/steps/*.py curation/engines/local.py curation/pipeline.py curation/webdataset.py|tests/curation/steps tests/curation/engines/test_local.py tests/curation/engines/test_duplicates.py tests/curation/test_webdataset.py
}"

mutant_glob() {  # scaling.fit.percentile_intervals -> scaling.fit.x_percentile_intervals__mutmut_*; Class.method -> xǁClassǁmethod
    local module="${1%.*}" function="${1##*.}" class
    class="${module##*.}"
    if [[ "$class" =~ ^[A-Z] ]]; then echo "${module%.*}.xǁ${class}ǁ${function}__mutmut_*"; else echo "${module}.x_${function}__mutmut_*"; fi
}

toml_list() {  # words -> a TOML array of strings
    local out="" word
    for word in $1; do out="$out\"$word\", "; done
    echo "[${out%, }]"
}

sample_functions() {  # seed count files... -> `count` functions drawn from every undecorated (or @float64) function and method
    "$PY" - "$@" <<'EOF'
import ast, random, sys
seed, count, *paths = sys.argv[1:]
names = set()
for path in sorted(paths):
    module = path[:-3].replace("/", ".")
    for node in ast.parse(open(path).read()).body:
        members = [(f"{node.name}.", m) for m in node.body] if isinstance(node, ast.ClassDef) else [("", node)]
        for prefix, m in members:
            if isinstance(m, ast.FunctionDef) and all(isinstance(d, ast.Name) and d.id == "float64" for d in m.decorator_list):
                names.add(f"{module}.{prefix}{m.name}")
print(" ".join(sorted(random.Random(int(seed)).sample(sorted(names), min(int(count), len(names))))))
EOF
}

run_target() {
    local name="$1" files="$2" tests="$3" functions="$4" dir="$WORK/$1" names=()
    rm -rf "$dir" && mkdir -p "$dir"
    # the checkout's files (tracked and untracked, not ignored) and the shared data beside it
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$dir"
    ln -sfn "$SHARED" "$dir/shared"  # mutmut runs the tests in $dir/mutants: tests/paths.py finds ../shared
    # mutmut 3 does not mutate a decorated function (its decorators run at definition time): the
    # copy's `@float64` lines are removed from the files to mutate, and JAX_ENABLE_X64 below gives
    # their bodies the float64 the decorator would (the decorator's own tests are not selected here)
    (cd "$dir" && for f in $files; do sed -i -E '/^[[:space:]]*@float64[[:space:]]*$/d' "$f"; done)
    cat >> "$dir/pyproject.toml" <<EOF

[tool.mutmut]
source_paths = ["curascale", "scaling", "curation", "runs_db", "fits"]
only_mutate = $(toml_list "$files")
pytest_add_cli_args_test_selection = $(toml_list "$tests")
pytest_add_cli_args = ["-p", "no:cacheprovider", "-x", "-q"]
# tests that read the documentation (docs/laws.md's worked numbers, the README) find it beside them
also_copy = ["docs", "README.md"]
# the fork server imports and collects the tests once (no test runs there, so no compiled JAX
# program is shared through fork); mutants of functions that run at import time are therefore not
# exercised: the targets below leave those out (the laws' parameter specs)
process_isolation = "forkserver"
forkserver_warmup = "collect"
# error-message lines are not mutated: their text is checked by the CLI tests, not worth a mutant each
do_not_mutate_patterns = ['raise [A-Za-z]*Error\(', '^\s+f?"[^"]*"\)?$']
use_git_change_detection = false
# a mutant's time limit is wall-clock, (the tests' time in the clean run + 30 s) * 2 * 2: the
# constant covers importing JAX on a loaded machine, the factor an infinite loop's margin
timeout_constant = 30.0
timeout_multiplier = 2.0
EOF
    if [ -z "$functions" ] && [ -n "${MUTATION_SAMPLE:-}" ]; then
        functions="$(cd "$ROOT" && sample_functions "${MUTATION_SEED:-19}" "$MUTATION_SAMPLE" $files)"
        echo "== $name: a sample (seed ${MUTATION_SEED:-19}) of $MUTATION_SAMPLE functions: $functions"
    fi
    echo "== $name: mutating $files; tests: $tests"
    for f in $functions; do names+=("$(mutant_glob "$f")"); done
    (cd "$dir" && env -u PYTHONPATH JAX_ENABLE_X64=1 "$MUTMUT" run --max-children "$JOBS" "${names[@]}" > mutmut.log 2>&1) || { echo "$name: mutmut failed, see $dir/mutmut.log"; tail -20 "$dir/mutmut.log"; return 1; }
    (cd "$dir" && env -u PYTHONPATH "$MUTMUT" results --all true > results.txt 2>&1) || true
    "$PY" - "$name" "$dir/results.txt" "${names[@]}" <<'EOF'
import collections, fnmatch, sys
name, results_path, *patterns = sys.argv[1:]
status = {}
for line in open(results_path):
    if ": " in line:
        key, value = line.strip().rsplit(": ", 1)
        if not patterns or any(fnmatch.fnmatch(key, p) for p in patterns):
            status[key] = value
counts = collections.Counter(status.values())
tested = sum(v for k, v in counts.items() if k not in ("no tests", "skipped", "not checked"))
others = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k not in ("killed", "survived"))
print(f"{name}: {len(status)} mutants, killed {counts['killed']}, survived {counts['survived']}"
      + (f", {others}" if others else "") + f"; survival {counts['survived'] / max(tested, 1):.1%} of tested")
for key, value in sorted(status.items()):
    if value not in ("killed", "no tests", "not checked"):  # those two are counted above, not listed
        print(f"  {value}: {key}")
EOF
}

selected=("$@")
status=0
while IFS='|' read -r name files tests functions; do
    [ -z "$name" ] && continue
    if [ "${#selected[@]}" -gt 0 ] && [[ ! " ${selected[*]} " =~ " $name " ]]; then continue; fi
    run_target "$name" "$files" "$tests" "$functions" || status=1
done <<< "$TARGETS"
echo "work folder: $WORK"
exit $status
