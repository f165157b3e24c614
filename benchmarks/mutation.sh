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
#   benchmarks/mutation.sh retry limits       # chosen modules (sotkit/<name>.py; providers = sotkit/providers/,
#                                             # generation = engines/generation.py)
#   benchmarks/mutation.sh --changed [BASE]   # the configured modules a change touches (git diff BASE, default main)
#   SAMPLE=150 benchmarks/mutation.sh coordinator   # a fixed random sample of each module's mutants (same every run)
#   MATCH='_watched' benchmarks/mutation.sh runner  # only the mutants whose names match (the functions changed)
#   benchmarks/mutation.sh --recheck runner   # rerun, on the tests as they are now, the survivors (and old 60 s
#                                             # timeouts) of the last run's mutants/results-<module>.txt
#
# Per module it prints killed/total and the surviving mutants; `.venv/bin/mutmut show NAME` shows one's diff.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MUTMUT=$ROOT/.venv/bin/mutmut
ALL=(retry limits stitch expansion skeleton coordinator runner providers generation
     talk runon header pricing tracing templates redact options rules)
declare -A TESTS=(
    [retry]="tests/test_retry.py tests/test_reliability.py tests/test_error_paths.py"
    [limits]="tests/test_limits.py"
    [stitch]="tests/test_stitch.py tests/test_client.py"
    [expansion]="tests/test_expansion.py tests/test_coordinator.py tests/test_error_paths.py"
    [skeleton]="tests/test_skeleton.py tests/test_coordinator.py tests/test_error_paths.py"
    [coordinator]="tests/test_coordinator.py tests/test_error_paths.py tests/test_reliability.py tests/test_client.py
                   tests/test_tracing.py tests/test_integrity.py tests/test_router.py"
    [runner]="tests/test_client.py tests/engines/test_registry.py tests/test_tracing.py tests/test_error_paths.py
              tests/test_coordinator.py tests/test_integrity.py tests/test_reliability.py
              tests/test_overlap.py"  # fastest first (-x)
    [providers]="tests/providers/test_clients.py tests/providers/test_sse.py tests/providers/test_wire.py
                 tests/providers/test_local.py tests/providers/test_think.py tests/test_pricing.py
                 tests/test_error_paths.py tests/test_testing.py tests/test_reliability.py tests/test_errors.py
                 tests/test_integrity.py tests/test_coordinator.py"
    [generation]="tests/engines/test_generation.py tests/providers/test_local.py tests/engines/test_fast_decode.py"
    [talk]="tests/test_expansion.py tests/test_refusals.py"
    [runon]="tests/test_expansion.py tests/test_refusals.py"
    [header]="tests/test_stitch.py tests/test_skeleton.py tests/test_expansion.py tests/test_refusals.py"
    [pricing]="tests/test_pricing.py tests/test_client.py"
    [tracing]="tests/test_tracing.py"
    [templates]="tests/test_templates.py tests/test_expansion.py tests/test_client.py"
    [redact]="tests/test_errors.py tests/test_client.py tests/test_tracing.py
              tests/test_limits_redis.py::test_refused_credentials_are_named_and_no_message_shows_the_password
              tests/test_limits_redis.py::test_no_shape_of_redis_url_shows_its_password
              tests/test_limits_redis.py::test_a_user_name_holding_an_at_sign_leaves_the_password_out_of_the_message_and_repr
              tests/test_limits_redis.py::test_an_at_sign_past_the_host_is_no_user_info
              tests/test_limits_redis.py::test_a_key_glued_to_other_text_is_redacted_and_a_placeholder_only_as_a_word"
    [options]="tests/providers/test_clients.py tests/test_retry.py tests/test_pricing.py tests/test_testing.py
               tests/test_client.py"
    [rules]="tests/test_router.py"
)

# tests that fail in mutants/ with no mutant on: they check a warning's stacklevel (the file that warned, or its
# module's __warningregistry__), which mutmut's trampoline frame shifts, or run the README's blocking-portal script
DESELECT="--deselect tests/test_reliability.py::test_fallback_warnings_quoting_a_new_429_each_request_keep_the_warning_registry_bounded
 --deselect tests/test_pricing.py::test_a_prices_key_with_a_typo_of_the_models_name_is_warned_of_once_when_the_cost_is_unknown
 --deselect tests/test_pricing.py::test_prices_that_look_given_per_token_are_warned_of_where_the_client_is_built
 --deselect tests/test_pricing.py::test_a_prices_key_one_slip_from_a_priced_model_of_the_client_is_warned_of_where_the_client_is_built
 --deselect tests/test_client.py::test_a_stream_read_from_sync_code_through_a_blocking_portal_as_the_readme_shows
 --deselect tests/test_client.py::test_a_script_using_the_readmes_blocking_portal_exits_when_it_ends"

# Where a module's source is, and the prefix of its mutants' names in `mutmut results`
module_path() { case "$1" in providers) echo "sotkit/providers/";; generation) echo "engines/generation.py";;
                             rules) echo "sotkit/router/rules.py";;
                             *) echo "sotkit/$1.py";; esac; }
prefix() { case "$1" in generation) echo "engines.generation";; rules) echo "sotkit.router.rules";;
                        *) echo "sotkit.$1";; esac; }

recheck=false
if [[ "${1:-}" == "--recheck" ]]; then
    recheck=true modules=("${@:2}")
elif [[ "${1:-}" == "--changed" ]]; then
    base="${2:-main}"
    mapfile -t files < <(git diff --name-only "$base" -- sotkit/ engines/)
    modules=()
    for m in "${ALL[@]}"; do
        for f in "${files[@]}"; do
            [[ "$f" == "$(module_path "$m")"* ]] && modules+=("$m") && break
        done
    done
    [[ ${#modules[@]} -eq 0 ]] && { echo "no configured module changed since $base"; exit 0; }
else
    modules=("${@:-${ALL[@]}}")
fi

run() {  # run MUTANT [TIMEOUT]: the module $m's tests with one mutant on (or none); their exit status
    # -x: the first failing test kills it; a mutant is switched on by the module it runs as (engines.generation
    # runs as sotkit.engines.generation)
    (cd mutants && MUTANT_UNDER_TEST="${1/#engines./sotkit.engines.}" nice -n 10 timeout "${2:-3600}" \
        "$ROOT/.venv/bin/python" -m pytest -x -q -p no:cacheprovider -k "not smollm2" $DESELECT ${TESTS[$m]} \
        > /dev/null 2>&1)
}

# (re)generate the mutants of changed sources (not for a recheck: its names are the last run's); the name
# matches no mutant, so nothing is run
$recheck || nice -n 10 "$MUTMUT" run --max-children 1 "generate.only" > /dev/null 2>&1 || true
# the tests as they are now (left alone when unchanged: another run may be using them)
diff -rq -x __pycache__ tests mutants/tests > /dev/null 2>&1 || { rm -rf mutants/tests && cp -r tests mutants/tests; }
# engines/ is installed as sotkit.engines: in mutants/ it must resolve to the mutated copy, not the editable install
ln -sfn ../engines mutants/sotkit/engines

for m in "${modules[@]}"; do
    echo "== sotkit.$m: ${TESTS[$m]//$'\n'/ }"
    # the module's tests with no mutant on must pass; a mutant run that takes 3x as long (plus 30 s for a busy
    # machine) hangs: it counts as killed, as in mutmut, and is marked so (a fixed 60 s cut survivors short)
    start=$SECONDS
    run none || { echo "$m: its tests fail with no mutant on"; exit 1; }
    limit=$((3 * (SECONDS - start) + 30))
    echo "no mutant: $((SECONDS - start)) s; a run past $limit s hangs"
    if $recheck; then
        total=$(wc -l < "mutants/results-$m.txt") still=0 hangs=0
        for name in $(sed -n -e 's/: survived$//p' -e 's/: killed (rc 124)$//p' "mutants/results-$m.txt"); do
            rc=0
            run "$name" "$limit" || rc=$?
            if [[ $rc -eq 0 ]]; then still=$((still + 1)); echo "$name: still survives"
            elif [[ $rc -eq 124 ]]; then hangs=$((hangs + 1)); echo "$name: hangs (past $limit s)"; fi
        done
        echo "sotkit.$m: $((total - still)) of $total killed by the tests as they are now ($hangs of them by hanging)"
        continue
    fi
    "$MUTMUT" results --all true 2>/dev/null | sed -n "s/^ *\($(prefix "$m")\.[^:]*\):.*/\1/p" > "mutants/names-$m.txt"
    if [[ -n "${MATCH:-}" ]]; then
        grep -E -- "$MATCH" "mutants/names-$m.txt" > "mutants/match-$m.txt" || true
        mv "mutants/match-$m.txt" "mutants/names-$m.txt"
    fi
    # a score from a sample: n killed of N sampled estimates the module's within ~1/sqrt(N)
    if [[ -n "${SAMPLE:-}" ]]; then
        shuf -n "$SAMPLE" --random-source=<(yes) "mutants/names-$m.txt" > "mutants/sample-$m.txt"
        mv "mutants/sample-$m.txt" "mutants/names-$m.txt"
    fi
    : > "mutants/results-$m.txt"
    killed=0 total=0
    while read -r name; do
        rc=0
        run "$name" "$limit" || rc=$?
        total=$((total + 1))
        if [[ $rc -eq 0 ]]; then echo "$name: survived" | tee -a "mutants/results-$m.txt"; continue; fi
        killed=$((killed + 1))
        if [[ $rc -eq 124 ]]; then echo "$name: hangs (past $limit s)"; else echo "$name: killed (rc $rc)"; fi \
            >> "mutants/results-$m.txt"
    done < "mutants/names-$m.txt"
    echo "sotkit.$m: killed $killed of $total"
done
