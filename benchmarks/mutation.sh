#!/usr/bin/env bash
# Mutation testing of sotkit's error-handling core and providers. mutmut 3 (config: [tool.mutmut] in
# pyproject.toml) writes the mutants into mutants/ (git-ignored); this script runs, per mutant, the fast tests of
# its module in that copy (MUTANT_UNDER_TEST switches one mutant on), one at a time at low priority.
#
# Why not `mutmut run` alone: on this repo its stats pass records no test per function (0 entries in
# mutants/mutmut-stats.json with mutmut 3.8.1), so it either runs every selected test for every surviving mutant
# (~40 s each) or, with a narrower selection, marks every mutant "no tests". Running the module's test files
# directly is slower per kill but honest and a few minutes per module.
#
#   benchmarks/mutation.sh                    # every configured module, one after the other
#   benchmarks/mutation.sh retry limits       # chosen modules (sotkit/<name>.py; providers = sotkit/providers/)
#   benchmarks/mutation.sh --changed [BASE]   # the configured modules a change touches (git diff BASE, default main)
#   SAMPLE=150 benchmarks/mutation.sh coordinator   # a fixed random sample of each module's mutants (same every run)
#
# Per module it prints killed/total and the surviving mutants; `.venv/bin/mutmut show NAME` shows one's diff.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MUTMUT=$ROOT/.venv/bin/mutmut
ALL=(retry limits stitch expansion skeleton coordinator runner providers)
declare -A TESTS=(
    [retry]="tests/test_retry.py tests/test_reliability.py tests/test_error_paths.py"
    [limits]="tests/test_limits.py"
    [stitch]="tests/test_stitch.py tests/test_client.py"
    [expansion]="tests/test_expansion.py tests/test_coordinator.py tests/test_error_paths.py"
    [skeleton]="tests/test_skeleton.py tests/test_coordinator.py tests/test_error_paths.py"
    [coordinator]="tests/test_coordinator.py tests/test_error_paths.py tests/test_reliability.py tests/test_client.py
                   tests/test_tracing.py tests/test_integrity.py tests/test_router.py"
    [runner]="tests/test_client.py tests/engines/test_registry.py tests/test_tracing.py tests/test_error_paths.py
              tests/test_coordinator.py tests/test_integrity.py tests/test_reliability.py"  # fastest first (-x)
    [providers]="tests/providers/test_clients.py tests/providers/test_sse.py tests/providers/test_wire.py
                 tests/providers/test_local.py
                 tests/test_error_paths.py tests/test_testing.py tests/test_reliability.py tests/test_errors.py
                 tests/test_integrity.py tests/test_coordinator.py"
)

if [[ "${1:-}" == "--changed" ]]; then
    base="${2:-main}"
    mapfile -t files < <(git diff --name-only "$base" -- sotkit/)
    modules=()
    for m in "${ALL[@]}"; do
        for f in "${files[@]}"; do
            [[ "$f" == "sotkit/$m.py" || ( "$m" == providers && "$f" == sotkit/providers/* ) ]] && modules+=("$m") && break
        done
    done
    [[ ${#modules[@]} -eq 0 ]] && { echo "no configured module changed since $base"; exit 0; }
else
    modules=("${@:-${ALL[@]}}")
fi

# (re)generate the mutants of changed sources; the name matches no mutant, so nothing is run
nice -n 10 "$MUTMUT" run --max-children 1 "generate.only" > /dev/null 2>&1 || true
rm -rf mutants/tests && cp -r tests mutants/tests  # the tests as they are now

for m in "${modules[@]}"; do
    echo "== sotkit.$m: ${TESTS[$m]//$'\n'/ }"
    "$MUTMUT" results --all true 2>/dev/null | sed -n "s/^ *\(sotkit\.$m\.[^:]*\):.*/\1/p" > "mutants/names-$m.txt"
    if [[ -n "${SAMPLE:-}" ]]; then  # a score from a sample: n killed of N sampled estimates the module's within ~1/sqrt(N)
        shuf -n "$SAMPLE" --random-source=<(yes) "mutants/names-$m.txt" > "mutants/sample-$m.txt"
        mv "mutants/sample-$m.txt" "mutants/names-$m.txt"
    fi
    : > "mutants/results-$m.txt"
    killed=0 total=0
    while read -r name; do
        # -x: the first failing test kills it; a mutant that hangs (timeout) counts as killed, as in mutmut
        rc=0
        (cd mutants && MUTANT_UNDER_TEST="$name" nice -n 10 timeout 60 "$ROOT/.venv/bin/python" -m pytest -x -q \
            -p no:cacheprovider -k "not smollm2" ${TESTS[$m]} > /dev/null 2>&1) || rc=$?
        total=$((total + 1))
        if [[ $rc -eq 0 ]]; then echo "$name: survived" | tee -a "mutants/results-$m.txt"
        else killed=$((killed + 1)); echo "$name: killed (rc $rc)" >> "mutants/results-$m.txt"; fi
    done < "mutants/names-$m.txt"
    echo "sotkit.$m: killed $killed of $total"
done
