"""Every GPU measurement of issue 21 in one run, each phase under its own time budget, results in one folder.

    python benchmarks/gpu_run.py WORK [--device cuda] [--pack results.tar.gz]   # SmolLM2, ~8 min on an H200
    python benchmarks/gpu_run.py WORK --device cpu --tiny                       # the same phases on a tiny
                                                                                # random model, in seconds

Phases, in order (budgets in seconds; a phase past its budget is killed and the next one starts):

1. ``smoke``: ``gpu_smoke.py`` on tiny random models: the fast loop against ``generate()`` and its CUDA graph
   against eager steps; the engines' device paths. Skipped when WORK already holds a passing ``smoke.json``
   (from an earlier call on the same machine). If the fast loop failed, later phases decode without it.
2. ``decode_speed``: greedy tokens/s at batch 1, ``generate()`` against the fast loop, beside the bound
   that the memory bandwidth sets (``decode_speed.py``).
3. ``local_sot``: SoT against sequential on the 37 SoT-suitable Vicuna questions, bf16, on the fast loop, plus
   the expansion batch curve (``local_sot.py``).
4. ``train``: lexical-unit prepare + fine-tune, and FocusLLM training, side by side (each leaves most of a
   big GPU idle).
5. ``focus_bench``: FocusLLM's passkey retrieval at 16K and 32K tokens on the weights just trained.
6. ``lud_bench``: lexical-unit decoding against greedy and prompt lookup on held-out code and prose.

Every JSON result gets a ``session`` entry: the machine, the commands, the phase's wall time and the device
time used since the run began (``$GPU_SESSION_T0``, set by ``gpu_session.sh`` when the machine's command
started). ``session.json`` lists every phase's commands, exit codes and times; ``--pack`` rewrites a tarball of
WORK after every phase, so a run cut short still returns what it finished.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent


@dataclass
class Phase:
    name: str
    budget_s: float
    # sequences run side by side; the commands of one sequence run one after another
    sequences: list[list[list[str]]]
    results: list[str] = field(default_factory=list)  # JSON files (in WORK) this phase writes


def phases(work: Path, device: str, tiny: bool, fast: bool) -> list[Phase]:
    py = sys.executable
    bench = lambda script, *args: [py, str(ROOT / script), *args]  # noqa: E731
    module = lambda name, *args: [py, "-m", f"sotkit.engines.{name}", *args]  # noqa: E731
    w = lambda name: str(work / name)  # noqa: E731
    model = w("tiny_model") if tiny else "smollm2"
    dtype = [] if tiny else ["--dtype", "bfloat16"]
    on = ["--device", device]
    fast_flag = ["--fast-decode"] if fast else []
    lud_data, lud_model, focus_weights = w("lud_data"), w("lud_model"), w("focus.safetensors")
    if tiny:
        sizes = dict(speed=["--tokens", "16", "--repeats", "1", "--copy-megabytes", "16"],
                     sot=["--limit", "2", "--max-tokens", "16", "--point-max-tokens", "8"],
                     prepare=["--seq-len", "32", "--code-sequences", "6", "--answer-tokens", "8"],
                     lud_train=["--steps", "2", "--batch-size", "2", "--top-layers", "0"],
                     focus_train=["--chunk-size", "32", "--local-window", "16", "--fragment-len", "4", "--steps", "2",
                                  "--min-chunks", "2", "--max-chunks", "3", "--corpus-chars", "20000",
                                  "--eval-examples", "2"],
                     focus_bench=["--passkey", "focusllm:400", "--depths", "0.5", "--trials", "1"],
                     lud_bench=["--prompts", "1", "--max-new-tokens", "8", "--alphas", "0.5", "--verify-alphas", "0.5",
                                "--lookup-alphas", "0.5"])
    else:
        sizes = dict(speed=["--tokens", "128", "--repeats", "2"],
                     sot=["--budget-s", "120"],
                     prepare=["--seq-len", "128", "--code-sequences", "6000", "--answer-tokens", "128"],
                     lud_train=["--steps", "100000", "--batch-size", "32", "--lr", "1e-4", "--top-layers", "0",
                                "--warmup-steps", "30", "--budget-s", "70"],
                     focus_train=["--encode-batch-tokens", "65536", "--chunk-size", "256", "--local-window", "64",
                                  "--steps", "100000", "--time-budget", "115", "--lr", "3e-4", "--min-chunks", "2",
                                  "--max-chunks", "32", "--target-len", "8", "--eval-examples", "16"],
                     focus_bench=["--encode-batch-tokens", "65536", "--passkey", "focusllm:16384,32768",
                                  "--depths", "0.1,0.5,0.9", "--trials", "1"],
                     lud_bench=["--prompts", "6", "--max-new-tokens", "64", "--alphas", "0.5", "0.9",
                                "--verify-alphas", "0.5", "--lookup-alphas", "0.5"])
    return [
        Phase("smoke", 60, [[bench("gpu_smoke.py", device, "--out", w("smoke.json"))]], ["smoke.json"]),
        Phase("decode_speed", 75, [[bench("decode_speed.py", "--model", model, *on, *dtype, *sizes["speed"],
                                          "--out", w("decode_speed.json"))]], ["decode_speed.json"]),
        Phase("local_sot", 170, [[bench("local_sot.py", "--model", model, *on, *dtype, *fast_flag, "--batch-curve",
                                        *sizes["sot"], "--out", w("local_sot_gpu.json"))]], ["local_sot_gpu.json"]),
        Phase("train", 150, [
            [module("lexical_unit.cli", "prepare", "--model", model, *on, "--data", lud_data, *sizes["prepare"]),
             module("lexical_unit.cli", "train", *on, "--data", lud_data, "--out", lud_model, *sizes["lud_train"])],
            [module("focusllm.cli", "train", "--base", model, *on, *sizes["focus_train"], "--weights", focus_weights,
                    "--report", w("focusllm_train_gpu.json"))],
        ], ["focusllm_train_gpu.json"]),
        Phase("focus_bench", 50, [[module("focusllm.cli", "bench", "--base", model, *on, "--weights", focus_weights,
                                          "--skip-prefill", *sizes["focus_bench"], "--out", w("focusllm_gpu.json"))]],
              ["focusllm_gpu.json"]),
        Phase("lud_bench", 60, [[module("lexical_unit.cli", "bench", *on, "--model-dir", lud_model, "--data", lud_data,
                                        "--results", w("lud_gpu"), "--overwrite", *sizes["lud_bench"])]],
              ["lud_gpu.json"]),
    ]


def machine(device: str) -> dict:
    """What ran the measurements: CPU, GPU, library versions, load."""
    record = {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
              "load_average": os.getloadavg(), "python": platform.python_version(), "torch": version("torch"),
              "transformers": version("transformers"), "device": "cpu"}
    if device.startswith("cuda"):  # torch only here: on a CPU this process needs none of its 2 s of imports
        import torch

        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            record.update(device=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                          multiprocessors=props.multi_processor_count, cuda=torch.version.cuda)
    return record


def run_sequence(commands: list[list[str]], deadline: float, log: Path, outcome: list) -> None:
    """Run commands one after another into ``log``; kill the running one (and its children) at ``deadline``."""
    with log.open("a") as out:
        for command in commands:
            out.write(f"$ {shlex.join(command)}\n")
            out.flush()
            started = time.monotonic()
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                rc = process.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                rc = "timeout"
            outcome.append({"command": shlex.join(command), "rc": rc,
                            "wall_s": round(time.monotonic() - started, 2)})
            if rc != 0:
                return


def run_phase(phase: Phase, work: Path, t0: float, machine_record: dict) -> dict:
    started = time.monotonic()
    deadline = started + phase.budget_s
    outcomes: list[list] = [[] for _ in phase.sequences]
    threads = [threading.Thread(target=run_sequence, args=(seq, deadline, work / f"{phase.name}_{i}.log", outcome))
               for i, (seq, outcome) in enumerate(zip(phase.sequences, outcomes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    record = {"phase": phase.name, "budget_s": phase.budget_s, "wall_s": round(time.monotonic() - started, 2),
              "device_time_s": round(time.time() - t0, 1), "commands": [c for o in outcomes for c in o]}
    record["ok"] = all(c["rc"] == 0 for c in record["commands"]) and len(record["commands"]) == sum(
        map(len, phase.sequences))
    for name in phase.results:  # stamp each result file with where, how and at what cost it was made
        path = work / name
        try:
            report = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(report, dict):
            report["session"] = {"machine": machine_record, **{k: record[k] for k in
                                                               ("phase", "commands", "wall_s", "device_time_s")}}
            path.write_text(json.dumps(report, indent=1))
    return record


def smoke_passed(work: Path) -> bool:
    try:
        return json.loads((work / "smoke.json").read_text()).get("ok") is True
    except (OSError, ValueError):
        return False


def pack(work: Path, tarball: Path) -> None:
    partial = tarball.with_name(tarball.name + ".part")
    with tarfile.open(partial, "w:gz") as tar:
        for path in sorted(work.iterdir()):
            if path.name not in ("tiny_model", "lud_model", "lud_data") and not path.name.endswith(".safetensors"):
                tar.add(path, arcname=path.name)
    partial.replace(tarball)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("work", type=Path, help="folder for every result and log")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="a tiny random model and tiny sizes (the CPU smoke run)")
    parser.add_argument("--only", default="", help="comma-separated phase names to run (default: all)")
    parser.add_argument("--pack", type=Path, help="tarball of the results, rewritten after every phase")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    t0 = float(os.environ.get("GPU_SESSION_T0") or time.time())
    if args.tiny and not (work / "tiny_model").is_dir():
        from sotkit.engines.testing import save_tiny_chat_model

        save_tiny_chat_model(work / "tiny_model", seed=1)
    record_machine = machine(args.device)
    session = {"machine": record_machine, "command": "benchmarks/gpu_run.py " + shlex.join(
        sys.argv[1:] if argv is None else argv), "phases": []}
    only = set(filter(None, args.only.split(",")))
    for phase in phases(work, args.device, args.tiny, fast=True):
        if only and phase.name not in only:
            continue
        if phase.name == "smoke" and smoke_passed(work):
            session["phases"].append({"phase": "smoke", "skipped": "smoke.json from an earlier call passed"})
            continue
        if phase.name != "smoke" and (work / "smoke.json").exists() and not smoke_passed(work):
            phase = next(p for p in phases(work, args.device, args.tiny, fast=False) if p.name == phase.name)
            session["fast_decode"] = "off: the smoke run found the fast loop broken on this device"
        print(f"== {phase.name} (budget {phase.budget_s:.0f} s, device time so far {time.time() - t0:.0f} s)",
              flush=True)
        record = run_phase(phase, work, t0, record_machine)
        print(json.dumps(record), flush=True)
        session["phases"].append(record)
        (work / "session.json").write_text(json.dumps(session, indent=1))
        if args.pack:
            pack(work, args.pack)
    session["device_time_s"] = round(time.time() - t0, 1)
    (work / "session.json").write_text(json.dumps(session, indent=1))
    if args.pack:
        pack(work, args.pack)
    return session


if __name__ == "__main__":
    main()
