#!/usr/bin/env bash
# Run again, on the tests as they are now, the mutants of an earlier benchmarks/mutation.sh run that survived or
# were cut short by a timeout (before the script timed each module's tests, a fixed 60 s cut some survivors short):
# each is reported as still surviving, hanging (past 3x the tests' own time: counted killed, as in mutmut) or
# killed; what still survives is to be explained as equivalent, or tested.
#
#   benchmarks/mutation_recheck.sh coordinator runner       # modules whose mutants/results-<module>.txt exist
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source <(sed -n '/^declare -A TESTS=(/,/^)/p' benchmarks/mutation.sh)
diff -rq -x __pycache__ tests mutants/tests > /dev/null 2>&1 || { rm -rf mutants/tests && cp -r tests mutants/tests; }
ln -sfn ../engines mutants/sotkit/engines  # as in mutation.sh

run() {  # run MUTANT [TIMEOUT]: the module's tests with one mutant on (or none); its exit status
    local rc=0
    (cd mutants && MUTANT_UNDER_TEST="${1/#engines./sotkit.engines.}" nice -n 10 timeout "${2:-3600}" \
        "$ROOT/.venv/bin/python" -m pytest -x -q -p no:cacheprovider -k "not smollm2" ${TESTS[$m]} \
        > /dev/null 2>&1) || rc=$?
    return $rc
}

for m in "$@"; do
    start=$SECONDS
    run none || { echo "$m: its tests fail with no mutant on"; exit 1; }
    limit=$((3 * (SECONDS - start) + 30))
    total=$(wc -l < "mutants/results-$m.txt") still=0 hangs=0
    for name in $(sed -n -e 's/: survived$//p' -e 's/: killed (rc 124)$//p' "mutants/results-$m.txt"); do
        rc=0
        run "$name" "$limit" || rc=$?
        if [[ $rc -eq 0 ]]; then still=$((still + 1)); echo "$name: still survives"
        elif [[ $rc -eq 124 ]]; then hangs=$((hangs + 1)); echo "$name: hangs (past $limit s)"; fi
    done
    echo "sotkit.$m: $((total - still)) of $total killed by the tests as they are now ($hangs of them by hanging)"
done
