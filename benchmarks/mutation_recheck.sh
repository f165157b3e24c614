#!/usr/bin/env bash
# Run the survivors of an earlier benchmarks/mutation.sh run again, on the tests as they are now: each one the
# tests added since kill is reported killed; what still survives is listed (to explain as equivalent, or to test).
#
#   benchmarks/mutation_recheck.sh coordinator runner       # modules whose mutants/results-<module>.txt exist
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source <(sed -n '/^declare -A TESTS=(/,/^)/p' benchmarks/mutation.sh)
rm -rf mutants/tests && cp -r tests mutants/tests
for m in "$@"; do
    survivors=$(sed -n 's/: survived$//p' "mutants/results-$m.txt")
    total=$(wc -l < "mutants/results-$m.txt") still=0
    for name in $survivors; do
        rc=0
        (cd mutants && MUTANT_UNDER_TEST="$name" nice -n 10 timeout 300 "$ROOT/.venv/bin/python" -m pytest -x -q \
            -p no:cacheprovider -k "not smollm2" ${TESTS[$m]} > /dev/null 2>&1) || rc=$?
        if [[ $rc -eq 0 ]]; then still=$((still + 1)); echo "$name: still survives"; fi
    done
    echo "sotkit.$m: $((total - still)) of $total killed by the tests as they are now"
done
