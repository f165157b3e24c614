#!/usr/bin/env bash
# Mutation testing of sotkit's error-handling core and providers with mutmut (config: [tool.mutmut] in
# pyproject.toml). One worker at low priority, so it runs beside other work on a 2-core machine.
#
#   benchmarks/mutation.sh                    # every configured module, one after the other
#   benchmarks/mutation.sh retry limits       # chosen modules (sotkit/<name>.py; providers = sotkit/providers/)
#   benchmarks/mutation.sh --changed [BASE]   # the configured modules a change touches (git diff BASE, default main)
#
# Per module it prints killed/survived/total and the surviving mutants; `.venv/bin/mutmut show NAME` shows a diff.
# Results are cached in mutants/ (git-ignored): a rerun tests only mutants of functions that changed.
set -euo pipefail
cd "$(dirname "$0")/.."
MUTMUT=.venv/bin/mutmut
ALL=(retry limits stitch expansion skeleton coordinator providers)
# the tests that exercise each module; mutmut's own test selection is all of [tool.mutmut]'s, which makes every
# surviving mutant pay for the whole list, so the others are left out here (PYTEST_ADDOPTS reaches every pytest run)
SELECTED=(tests/test_retry.py tests/test_limits.py tests/test_stitch.py tests/test_skeleton.py tests/test_expansion.py
          tests/test_coordinator.py tests/test_error_paths.py tests/test_reliability.py tests/test_client.py
          tests/test_testing.py tests/providers/test_clients.py tests/providers/test_sse.py tests/providers/test_local.py)
declare -A TESTS=(
    [retry]="tests/test_retry.py tests/test_reliability.py tests/test_error_paths.py"
    [limits]="tests/test_limits.py tests/test_reliability.py tests/test_coordinator.py"
    [stitch]="tests/test_stitch.py tests/test_coordinator.py tests/test_client.py"
    [expansion]="tests/test_expansion.py tests/test_coordinator.py tests/test_error_paths.py"
    [skeleton]="tests/test_skeleton.py tests/test_coordinator.py tests/test_error_paths.py"
    [coordinator]="tests/test_coordinator.py tests/test_error_paths.py tests/test_reliability.py tests/test_client.py"
    [providers]="tests/providers/test_clients.py tests/providers/test_sse.py tests/providers/test_local.py
                 tests/test_error_paths.py tests/test_testing.py tests/test_reliability.py"
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

for m in "${modules[@]}"; do
    echo "== sotkit.$m"
    mkdir -p mutants
    ignores=()
    for t in "${SELECTED[@]}"; do [[ " ${TESTS[$m]} " == *" $t "* ]] || ignores+=("--ignore=$t"); done
    PYTEST_ADDOPTS="${ignores[*]}" nice -n 10 "$MUTMUT" run --max-children 1 "sotkit.$m.*" > "mutants/run-$m.log" 2>&1 || true
    "$MUTMUT" results --all true 2>/dev/null | grep -E "^\s*sotkit\.$m\." > "mutants/results-$m.txt" || true
    killed=$(grep -c ": killed$" "mutants/results-$m.txt" || true)
    total=$(grep -vc ": not checked$" "mutants/results-$m.txt" || true)
    echo "killed $killed of $total tested"
    grep -v ": killed$" "mutants/results-$m.txt" | grep -v ": not checked$" || true
done
